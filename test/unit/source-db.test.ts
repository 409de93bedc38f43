// SourceDb's mapping of server answers to coded errors, with the answers recorded from MySQL 8.4
// (which has no SHOW MASTER STATUS) fed through a stubbed pool.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { BridgeError } from '../../src/errors.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { SourceDb } from '../../src/source/source-db.js';

function serverError(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno, sqlState: '42000', code: 'ER_X' });
}

const PARSE_ERROR_84 = serverError(
  1064,
  'You have an error in your SQL syntax; check the manual that corresponds to your ' +
    "MySQL server version for the right syntax to use near 'MASTER STATUS' at line 1",
);
const NO_REPLICATION_CLIENT = serverError(
  1227,
  'Access denied; you need (at least one of) the SUPER, REPLICATION CLIENT privilege(s) for this operation',
);

void describe('SourceDb.binlogEnd on MySQL 8.4 (SHOW BINARY LOG STATUS)', () => {
  const db = new SourceDb(parseMysqlUrl('mysql://u:p@127.0.0.1:1/'));
  after(() => db.close());
  const answer = (...results: Array<Error | unknown[]>): string[] => {
    const sent: string[] = [];
    db.pool.query = ((sql: string) => {
      sent.push(sql);
      const r = results.shift();
      return r instanceof Error ? Promise.reject(r) : Promise.resolve([r, []]);
    }) as typeof db.pool.query;
    return sent;
  };

  void it('reads the position from SHOW BINARY LOG STATUS', async () => {
    const sent = answer(PARSE_ERROR_84, [
      { File: 'binlog.000007', Position: 1234, Binlog_Do_DB: '', Binlog_Ignore_DB: '', Executed_Gtid_Set: '' },
    ]);
    assert.deepEqual(await db.binlogEnd(), { file: 'binlog.000007', pos: 1234 });
    assert.deepEqual(sent, ['SHOW MASTER STATUS', 'SHOW BINARY LOG STATUS']);
  });

  void it('a missing REPLICATION CLIENT there is UCW_ERR_SOURCE_GRANTS, as with SHOW MASTER STATUS', async () => {
    answer(NO_REPLICATION_CLIENT);
    const viaMaster = await db.binlogEnd().catch((e: BridgeError) => e);
    answer(PARSE_ERROR_84, NO_REPLICATION_CLIENT);
    const viaBinaryLog = await db.binlogEnd().catch((e: BridgeError) => e);
    assert.equal((viaMaster as BridgeError).code, 'UCW_ERR_SOURCE_GRANTS');
    assert.equal((viaBinaryLog as BridgeError).code, 'UCW_ERR_SOURCE_GRANTS');
    assert.equal((viaBinaryLog as BridgeError).retryable, true);
  });
});
