// StartPosition on a real temporary StateStore with a fake source: the first run snapshots the mirrored
// tables and starts at the binlog end (position read before the snapshot), a later run resumes from
// the checkpoint, a checkpoint of another server's history is refused, and --reset-to-now logs the skip.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinlogPosition, Row } from '../../src/domain/row-change.js';
import type { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { StateStore } from '../../src/outbox/state-store.js';
import { StartPosition } from '../../src/pipeline/start-position.js';
import { Registry } from '../../src/registry/registry.js';
import { RulesEngine } from '../../src/rules/engine.js';
import { defaultRules } from '../../src/rules/load.js';
import { MARIADB_10_11 } from '../helpers/server-settings.js';
import { mirrorTablesOf } from '../../src/pipeline/processor.js';

/** The source's tables as a snapshot returns them (already projected to the asked columns). */
const TABLES: Record<string, Row[]> = {
  'ccdata.users': [{ username: 'u1', phone: '2001', name: 'Ana' }],
  'ccdata.dispositions': [{ id: 7, parentId: null, value: 'Sale' }],
  'ccdata.webhooks': [{ id: 1, event: 'AgentRingNoAnswer', url: 'http://127.0.0.1:9/ring' }],
};

/** A fake source whose binlog end, GTID positions and files the test sets; it records what was asked. */
class FakeSource {
  end: BinlogPosition = { file: 'bin.000001', pos: 1_000 };
  files = [{ file: 'bin.000001', size: 1_000 }];
  /** BINLOG_GTID_POS per "file:pos" (undefined: MySQL, no such function). */
  gtid = new Map<string, string>();
  readonly calls: string[] = [];
  binlogEnd(): Promise<BinlogPosition> {
    this.calls.push('binlogEnd');
    return Promise.resolve({ ...this.end });
  }
  snapshot(table: string, columns: readonly string[]): Promise<Row[]> {
    this.calls.push(`snapshot ${table} ${columns.join(',')}`);
    return Promise.resolve(TABLES[table] ?? []);
  }
  gtidPositionAt(pos: BinlogPosition): Promise<string | null | undefined> {
    return Promise.resolve(this.gtid.get(`${pos.file}:${pos.pos}`));
  }
  binlogFiles(): Promise<Array<{ file: string; size: number }>> {
    return Promise.resolve(this.files);
  }
}

/** server_uuid values in MySQL's format (the example of the MySQL 8.4 manual, "Replication Identifiers"). */
const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = '8a94f357-aab4-11df-86ab-c80aa9429562';

interface Started {
  readonly start: StartPosition;
  readonly outbox: StateStore;
  readonly engine: RulesEngine;
  readonly registry: Registry;
  readonly logs: Array<Record<string, unknown>>;
}

/** One bridge start on `stateDir` (a new StartPosition, as after a restart). */
function starting(stateDir: string, source: FakeSource, resetToNow = false): Started {
  const rules = defaultRules();
  const engine = new RulesEngine(rules, 'UTC');
  const registry = new Registry(rules.registry, () => undefined);
  const outbox = new StateStore({ stateDir, synchronous: 'normal' });
  const mirrorTables = mirrorTablesOf(engine, registry);
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', {
    write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const start = new StartPosition({ db: source, outbox, engine, registry, mirrorTables, resetToNow, logger });
  return { start, outbox, engine, registry, logs };
}

void describe('StartPosition', () => {
  let dir = '';
  let n = 0;
  const stateDir = (): string => join(dir, `state-${++n}`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-start-position-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('first run: reads the binlog end, then snapshots every mirrored table, and starts at that end', async () => {
    const source = new FakeSource();
    const s = starting(stateDir(), source);
    assert.deepEqual(await s.start.prepare(MARIADB_10_11), { file: 'bin.000001', pos: 1_000 });
    assert.deepEqual(source.calls, [
      'binlogEnd',
      'snapshot ccdata.users username,phone,name',
      'snapshot ccdata.dispositions id,parentId,value',
      'snapshot ccdata.webhooks id,event,url',
    ]);
    assert.deepEqual(s.outbox.checkpoint(), { file: 'bin.000001', pos: 1_000 });
    assert.deepEqual(s.outbox.mirrorRows('ccdata.users'), TABLES['ccdata.users']);
    // The mirrors are loaded: directories resolve, the registry routes.
    assert.deepEqual(s.engine.directoryForTable('ccdata.users')?.resolve('u1'), TABLES['ccdata.users']![0]);
    assert.deepEqual(s.registry.urlsFor('AgentRingNoAnswer'), ['http://127.0.0.1:9/ring']);
    assert.deepEqual(
      s.logs.filter((l) => l.level === 'info').map((l) => [l.msg, l.position]),
      [['first run: starting at the current end of the binlog', 'bin.000001:1000']],
    );
    s.outbox.close();
  });

  void it('a later run resumes from the checkpoint: no snapshot, the stored mirrors loaded', async () => {
    const dirPath = stateDir();
    const source = new FakeSource();
    const first = starting(dirPath, source);
    await first.start.prepare(MARIADB_10_11);
    first.outbox.commit({
      events: [],
      mirror: [{ table: 'ccdata.users', pk: 'u2', row: { username: 'u2', phone: '2002', name: 'Bo' } }],
      checkpoint: { file: 'bin.000001', pos: 4_000 },
    });
    first.outbox.close();

    source.calls.length = 0;
    source.end = { file: 'bin.000002', pos: 9_000 };
    const again = starting(dirPath, source);
    assert.deepEqual(await again.start.prepare(MARIADB_10_11), { file: 'bin.000001', pos: 4_000 });
    assert.deepEqual(source.calls, []);
    assert.deepEqual(again.engine.directoryForTable('ccdata.users')?.resolve('u2'), {
      username: 'u2',
      phone: '2002',
      name: 'Bo',
    });
    assert.equal(
      again.logs.some((l) => l.code === 'UCW_WARN_SOURCE_RESET'),
      false,
    );
    again.outbox.close();
  });

  void it('a checkpoint written against another server is refused with UCW_ERR_SOURCE_CHECKPOINT_FOREIGN', async () => {
    const dirPath = stateDir();
    const source = new FakeSource();
    const first = starting(dirPath, source);
    await first.start.prepare(MARIADB_10_11);
    first.outbox.close();

    const other = starting(dirPath, source);
    await assert.rejects(other.start.prepare({ ...MARIADB_10_11, serverId: 2 }), (e: BridgeError) => {
      assert.equal(e.code, 'UCW_ERR_SOURCE_CHECKPOINT_FOREIGN');
      assert.equal(
        e.message,
        "the checkpoint bin.000001:1000 does not belong to this server's binlog: server_id was 1, is 2",
      );
      assert.match(e.hint ?? '', /--reset-to-now/);
      return true;
    });
    // Nothing was taken from the other server: same checkpoint, no snapshot.
    assert.deepEqual(other.outbox.checkpoint(), { file: 'bin.000001', pos: 1_000 });
    assert.deepEqual(source.calls, [
      'binlogEnd',
      'snapshot ccdata.users username,phone,name',
      'snapshot ccdata.dispositions id,parentId,value',
      'snapshot ccdata.webhooks id,event,url',
    ]);
    other.outbox.close();
  });

  void it('MySQL 8: the fingerprint is server_uuid (no BINLOG_GTID_POS); another uuid is refused', async () => {
    // MySQL has no BINLOG_GTID_POS (the fake answers undefined, as SourceDb does on error 1305), and
    // gtid_executed is a set of the whole server, not of a coordinate: server_uuid tells a rebuilt
    // server (a new data dir gets a new auto.cnf uuid) from the one the checkpoint was read on.
    const mysql8 = { ...MARIADB_10_11, version: '8.4.3', isMariaDb: false, serverUuid: UUID_A };
    const dirPath = stateDir();
    const source = new FakeSource();
    const first = starting(dirPath, source);
    await first.start.prepare(mysql8);
    first.outbox.close();

    const same = starting(dirPath, source);
    assert.deepEqual(await same.start.prepare(mysql8), { file: 'bin.000001', pos: 1_000 });
    same.outbox.close();

    const rebuilt = starting(dirPath, source);
    await assert.rejects(rebuilt.start.prepare({ ...mysql8, serverUuid: UUID_B }), (e: BridgeError) => {
      assert.equal(e.code, 'UCW_ERR_SOURCE_CHECKPOINT_FOREIGN');
      assert.equal(
        e.message,
        "the checkpoint bin.000001:1000 does not belong to this server's binlog: " +
          `server_uuid was ${UUID_A}, is ${UUID_B}`,
      );
      return true;
    });
    rebuilt.outbox.close();
  });

  void it('a rebuilt server (same server_id, other GTID history at the checkpoint) is refused', async () => {
    const dirPath = stateDir();
    const source = new FakeSource();
    source.gtid.set('bin.000001:1000', '0-1-42');
    const first = starting(dirPath, source);
    await first.start.prepare(MARIADB_10_11);
    first.outbox.close();

    source.gtid.set('bin.000001:1000', '0-1-3');
    const rebuilt = starting(dirPath, source);
    await assert.rejects(rebuilt.start.prepare(MARIADB_10_11), (e: BridgeError) => {
      assert.equal(e.code, 'UCW_ERR_SOURCE_CHECKPOINT_FOREIGN');
      assert.equal(
        e.message,
        "the checkpoint bin.000001:1000 does not belong to this server's binlog: " +
          "at bin.000001:1000 the server's GTID position was 0-1-42, is 0-1-3",
      );
      return true;
    });
    rebuilt.outbox.close();
  });

  void it(
    '--reset-to-now: starts at the current end, logs ' + 'the skipped bytes, and only on its first prepare',
    async () => {
      const dirPath = stateDir();
      const source = new FakeSource();
      const first = starting(dirPath, source);
      await first.start.prepare(MARIADB_10_11);
      first.outbox.commit({ events: [], mirror: [], checkpoint: { file: 'bin.000001', pos: 600 } });
      first.outbox.close();

      source.end = { file: 'bin.000003', pos: 250 };
      source.files = [
        { file: 'bin.000001', size: 1_000 },
        { file: 'bin.000002', size: 5_000 },
        { file: 'bin.000003', size: 250 },
      ];
      const reset = starting(dirPath, source, true);
      assert.deepEqual(await reset.start.prepare(MARIADB_10_11), { file: 'bin.000003', pos: 250 });
      const warned = reset.logs.filter((l) => l.code === 'UCW_WARN_SOURCE_RESET');
      assert.equal(warned.length, 1);
      // The rest of bin.000001 (400), all of bin.000002 (5,000) and the start of bin.000003 (250).
      assert.deepEqual(
        { level: warned[0]!.level, from: warned[0]!.from, to: warned[0]!.to, skippedBytes: warned[0]!.skippedBytes },
        { level: 'warn', from: 'bin.000001:600', to: 'bin.000003:250', skippedBytes: 5_650 },
      );
      assert.deepEqual(reset.outbox.checkpoint(), { file: 'bin.000003', pos: 250 });

      // A reconnect of the same run resumes from the checkpoint: the reset is not repeated.
      reset.outbox.commit({ events: [], mirror: [], checkpoint: { file: 'bin.000003', pos: 900 } });
      source.end = { file: 'bin.000004', pos: 100 };
      assert.deepEqual(await reset.start.prepare(MARIADB_10_11), { file: 'bin.000003', pos: 900 });
      assert.equal(reset.logs.filter((l) => l.code === 'UCW_WARN_SOURCE_RESET').length, 1);
      reset.outbox.close();
    },
  );
});
