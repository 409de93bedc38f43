// Binlog stream errors as the servers send them (messages recorded: MariaDB 10.11 on the fixture;
// MySQL 8 and 5.7 from client tracebacks), mapped to codes. 1236 covers several reasons: only a
// checkpoint the binlog no longer has may advise --reset-to-now.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyStreamError, isConnectionLoss } from '../../src/source/stream-errors.js';

/** An error shaped like mysql2's for a server ERR packet. */
function serverError(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno, sqlState: 'HY000', code: 'ER_UNKNOWN' });
}

const cases: Array<[string, number, string, string, boolean]> = [
  // [what, errno, message, code, retryable]
  [
    'MariaDB 10.11, checkpoint file missing/purged',
    1236,
    'Could not find first log file name in binary log index file',
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MariaDB 10.11, position past the end of the file',
    1236,
    "Client requested master to start replication from impossible position; the first event 'binlog.000001' " +
      "at 99999999, the last event read from 'binlog.000001' at 4, the last byte read from 'binlog.000001' at 4.",
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MySQL 8, GTID source purged',
    1236,
    'Cannot replicate because the source purged required binary logs. Replicate the ' +
      'missing transactions from elsewhere, or provision a new replica from backup. Consider ' +
      "increasing the source's binary log expiration period. The GTID set sent by the replica " +
      "is '', and the missing transactions are '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8'",
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MariaDB 10.11, another replica with the same server id (errno 4052, recorded on the fixture)',
    4052,
    "A slave with the same server_uuid/server_id is already connected; the first event 'binlog.000001' at " +
      "325, the last event read from 'binlog.000001' at 256, the last byte read from 'binlog.000001' at 325.",
    'UCW_ERR_SOURCE_SERVER_ID_CLASH',
    false,
  ],
  [
    'MySQL 8, another replica with the same server id',
    1236,
    'A replica with the same server_uuid/server_id as this replica has connected ' +
      "to the source; the first event 'binlog.000017' at 4, the last event read from " +
      "'./binlog.000017' at 96475, the last byte read from './binlog.000017' at 96475.",
    'UCW_ERR_SOURCE_SERVER_ID_CLASH',
    false,
  ],
  [
    'MySQL 5.7, another slave with the same server id',
    1236,
    'A slave with the same server_uuid/server_id as this slave has connected to the ' +
      "master; the first event 'mysql-bin.000001' at 4, the last event read from " +
      "'./mysql-bin.000001' at 1045, the last byte read from './mysql-bin.000001' at 1045.",
    'UCW_ERR_SOURCE_SERVER_ID_CLASH',
    false,
  ],
  // MySQL 8.0.26+ wording of the dump thread's 1236 reasons (rpl_binlog_sender.cc; "master" became "source").
  [
    'MySQL 8, checkpoint file missing/purged',
    1236,
    'Could not find first log file name in binary log index file',
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MySQL 8.0.26+, position past the end of the file',
    1236,
    'Client requested source to start replication from position > file size',
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MySQL 5.7/8.0.25, position past the end of the file',
    1236,
    'Client requested master to start replication from position > file size',
    'UCW_ERR_SOURCE_BINLOG_GONE',
    false,
  ],
  [
    'MySQL 8, binlog truncated (a crash or a full disk on the source): retried, never "purged"',
    1236,
    'binlog truncated in the middle of event; consider out of disk space on source; the first event ' +
      "'binlog.000002' at 4, the last event read from './binlog.000002' at 125, the last byte read from " +
      "'./binlog.000002' at 4096.",
    'UCW_ERR_SOURCE_STREAM',
    true,
  ],
  [
    'any other 1236 (oversized event): retried, never "purged"',
    1236,
    'log event entry exceeded max_allowed_packet; Increase max_allowed_packet ' +
      "on master; the first event 'binlog.000003' at 4, the last event read from " +
      "'binlog.000003' at 1234, the last byte read from 'binlog.000003' at 1253.",
    'UCW_ERR_SOURCE_STREAM',
    true,
  ],
];

void describe('classifyStreamError', () => {
  for (const [what, errno, message, code, retryable] of cases) {
    void it(`${what} -> ${code}`, () => {
      const e = classifyStreamError(serverError(errno, message));
      assert.equal(e.code, code);
      assert.equal(e.retryable, retryable);
      assert.ok(e.message.includes(message), 'the server message is kept');
      if (code !== 'UCW_ERR_SOURCE_BINLOG_GONE') assert.doesNotMatch(e.hint ?? '', /--reset-to-now/);
      if (code === 'UCW_ERR_SOURCE_SERVER_ID_CLASH') assert.match(e.hint ?? '', /--server-id/);
    });
  }

  void it(
    "zongji's column-count mismatch (recorded on the fixture, " +
      'binlog_row_metadata=MINIMAL) is a drift of that table',
    () => {
      const e = classifyStreamError(
        new Error(
          'Table ccrepo.queue_log_repo schema changed between binlog event and ' +
            'metadata fetch: the event has 11 columns, fetched metadata has 10',
        ),
      );
      assert.deepEqual(
        [e.code, e.retryable, e.details],
        ['UCW_ERR_RULES_SCHEMA_DRIFT', true, { table: 'ccrepo.queue_log_repo' }],
      );
      assert.match(e.hint ?? '', /binlog_row_metadata = FULL/);
    },
  );

  void it('a dropped connection is a retryable stream error, and a connection loss (not counted as stuck)', () => {
    // Recorded on the fixture after KILL of the dump thread.
    const e = classifyStreamError(
      Object.assign(new Error('Connection lost: The server closed the connection.'), {
        code: 'PROTOCOL_CONNECTION_LOST',
        fatal: true,
      }),
    );
    assert.deepEqual([e.code, e.retryable, isConnectionLoss(e)], ['UCW_ERR_SOURCE_STREAM', true, true]);
    assert.equal(
      isConnectionLoss(
        classifyStreamError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 })),
      ),
      true,
    );
    assert.equal(isConnectionLoss(classifyStreamError(serverError(1053, 'Server shutdown in progress'))), true);
    assert.equal(
      isConnectionLoss(
        classifyStreamError(
          serverError(1236, 'log event entry exceeded max_allowed_packet; Increase max_allowed_packet on master'),
        ),
      ),
      false,
    );
    assert.equal(isConnectionLoss(classifyStreamError(new Error('Cannot read properties of undefined'))), false);
  });

  void it('a state store failure in the handler is not a connection loss: repeated, it counts as stuck', () => {
    // better-sqlite3's errors carry a string code and no errno, like mysql2's client-side ones.
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_CORRUPT', 'SQLITE_READONLY']) {
      const sqlite = Object.assign(new Error('database or disk is full'), { code });
      assert.equal(isConnectionLoss(classifyStreamError(sqlite)), false, code);
    }
    for (const code of ['ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'PROTOCOL_SEQUENCE_TIMEOUT']) {
      assert.equal(isConnectionLoss(classifyStreamError(Object.assign(new Error(code), { code }))), true, code);
    }
  });
});
