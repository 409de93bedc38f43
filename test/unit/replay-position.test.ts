import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBridgeError } from '../../src/errors.js';
import {
  comparePositions,
  earliest,
  fileForGtid,
  parseGtidList,
  parseReplayPoint,
} from '../../src/ops/replay-position.js';
import { bytesBetween } from '../../src/ops/replay-locate.js';
import { DERIVED_SERVER_ID_MIN, oneOffServerId } from '../../src/source/server-id.js';

void describe('parseReplayPoint', () => {
  void it('reads a binlog coordinate file:pos', () => {
    assert.deepEqual(parseReplayPoint('mariadb-bin.000012:4711', 'UTC'), {
      kind: 'position',
      position: { file: 'mariadb-bin.000012', pos: 4711 },
    });
    assert.deepEqual(parseReplayPoint(' pos:binlog.000001:4 ', 'UTC'), {
      kind: 'position',
      position: { file: 'binlog.000001', pos: 4 },
    });
  });

  void it('reads a MariaDB GTID domain-server-seq', () => {
    assert.deepEqual(parseReplayPoint('0-1-2345', 'UTC'), { kind: 'gtid', gtid: { domain: 0, server: 1, seq: 2345 } });
    assert.deepEqual(parseReplayPoint('gtid:2-10-7', 'UTC'), { kind: 'gtid', gtid: { domain: 2, server: 10, seq: 7 } });
  });

  void it('reads a time with an offset as that instant, and one without in the given zone', () => {
    assert.deepEqual(parseReplayPoint('2026-11-30T15:50:00Z', 'UTC'), {
      kind: 'time',
      ms: Date.UTC(2026, 10, 30, 15, 50, 0),
    });
    assert.deepEqual(parseReplayPoint('2026-11-30T12:50:00.250-03:00', 'UTC'), {
      kind: 'time',
      ms: Date.UTC(2026, 10, 30, 15, 50, 0, 250),
    });
    // Montevideo is UTC-3 all year.
    assert.deepEqual(parseReplayPoint('2026-11-30 12:50', 'America/Montevideo'), {
      kind: 'time',
      ms: Date.UTC(2026, 10, 30, 15, 50, 0),
    });
    assert.deepEqual(parseReplayPoint('time:2026-11-30T15:50', 'UTC'), {
      kind: 'time',
      ms: Date.UTC(2026, 10, 30, 15, 50, 0),
    });
  });

  void it('a bare date is a GTID-shaped text, so a time needs its clock part (or the time: prefix)', () => {
    assert.equal(parseReplayPoint('2026-11-30', 'UTC').kind, 'gtid');
    assert.throws(() => parseReplayPoint('time:2026-11-30', 'UTC'), /--from "time:2026-11-30": not a time/);
  });

  void it('refuses what is none of the three, naming the option (UCW_ERR_CONFIG_INVALID)', () => {
    for (const bad of ['yesterday', 'binlog.000001', 'binlog.000001:3', 'gtid:0-1', '2026-13-01T00:00:00Z', '']) {
      assert.throws(
        () => parseReplayPoint(bad, 'UTC', '--to'),
        (err: unknown) => isBridgeError(err) && err.code === 'UCW_ERR_CONFIG_INVALID' && err.message.startsWith('--to'),
        bad,
      );
    }
  });
});

void describe('binlog coordinates', () => {
  void it('order by the file number (not its text), then the position', () => {
    const a = { file: 'bin.000009', pos: 900 };
    const b = { file: 'bin.000010', pos: 4 };
    assert.ok(comparePositions(a, b) < 0);
    assert.ok(comparePositions({ file: 'bin.9', pos: 4 }, { file: 'bin.10', pos: 4 }) < 0);
    assert.ok(comparePositions(b, { file: 'bin.000010', pos: 5 }) < 0);
    assert.equal(comparePositions(b, { ...b }), 0);
    assert.deepEqual(earliest(undefined, b, a, undefined), a);
  });

  void it('bytesBetween counts the rest of the first file, whole files between and the start of the last', () => {
    const files = [
      { file: 'bin.000001', size: 1000 },
      { file: 'bin.000002', size: 500 },
      { file: 'bin.000003', size: 300 },
    ];
    assert.equal(bytesBetween(files, { file: 'bin.000001', pos: 400 }, { file: 'bin.000001', pos: 900 }), 500);
    assert.equal(bytesBetween(files, { file: 'bin.000001', pos: 400 }, { file: 'bin.000003', pos: 100 }), 1200);
    assert.equal(bytesBetween(files, { file: 'gone.000001', pos: 4 }, { file: 'bin.000003', pos: 100 }), 0);
  });
});

void describe('locating a GTID', () => {
  void it('parses a Gtid_list, keeping the highest sequence of a domain listed per server', () => {
    assert.deepEqual(
      parseGtidList('[0-1-10,1-2-3,0-2-12]'),
      new Map([
        [0, 12],
        [1, 3],
      ]),
    );
    assert.deepEqual(parseGtidList('[]'), new Map());
  });

  void it('picks the last file whose list is below the sequence; none when it is older than the first', () => {
    const files = [
      { file: 'bin.000001', gtidList: new Map([[0, 5]]) },
      { file: 'bin.000002', gtidList: new Map([[0, 20]]) },
      { file: 'bin.000003', gtidList: new Map([[0, 31]]) },
    ];
    const at = (seq: number, domain = 0): string | undefined => fileForGtid(files, { domain, server: 1, seq });
    assert.equal(at(6), 'bin.000001');
    assert.equal(at(20), 'bin.000001');
    assert.equal(at(21), 'bin.000002');
    assert.equal(at(99), 'bin.000003');
    assert.equal(at(5), undefined, 'purged');
    assert.equal(at(1, 7), 'bin.000003', 'a domain no list names yet: its first GTID is in the newest file');
  });
});

void describe('oneOffServerId', () => {
  void it("never returns the bridge's id, drawing again when the draw hits it", () => {
    const draws = [DERIVED_SERVER_ID_MIN + 1, DERIVED_SERVER_ID_MIN + 1, DERIVED_SERVER_ID_MIN + 2];
    assert.equal(
      oneOffServerId([DERIVED_SERVER_ID_MIN + 1, undefined], () => draws.shift()!),
      DERIVED_SERVER_ID_MIN + 2,
    );
  });
});
