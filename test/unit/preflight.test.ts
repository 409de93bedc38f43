import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import type { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { preflight, writePrivileges, type PreflightDb } from '../../src/source/preflight.js';
import type { ServerSettings } from '../../src/source/source-db.js';

void test('writePrivileges finds what lets a user change the source, and nothing in read-only grants', () => {
  const readOnly = [
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `ucw_bridge`@`%` IDENTIFIED BY PASSWORD '*ABC'",
    'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
    'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
  ];
  assert.deepEqual(writePrivileges(readOnly), []);
  assert.deepEqual(writePrivileges(['GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION']), ['ALL PRIVILEGES ON *.*']);
  assert.deepEqual(writePrivileges(['GRANT SELECT, INSERT, UPDATE ON `ccrepo`.* TO `x`@`%`']), ['INSERT ON `ccrepo`.*', 'UPDATE ON `ccrepo`.*']);
  assert.deepEqual(writePrivileges(['GRANT PROXY ON ``@`%` TO `root`@`localhost`']), []);
});

/** Server settings as MariaDB 10.11 (the fixture) answers; MySQL 8 variants override fields. */
const MARIADB_10_11: ServerSettings = {
  version: '10.11.19-MariaDB-0+deb12u1-log',
  isMariaDb: true,
  serverId: 1,
  logBin: true,
  binlogFormat: 'ROW',
  binlogRowImage: 'FULL',
  binlogRowMetadata: 'FULL',
  serverUuid: undefined,
  // MariaDB answers 1193 Unknown system variable: read as undefined.
  binlogTransactionCompression: undefined,
  binlogRowValueOptions: undefined,
};
const MYSQL_8_4: ServerSettings = {
  ...MARIADB_10_11,
  version: '8.4.3',
  isMariaDb: false,
  serverUuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
  // SELECT @@binlog_transaction_compression answers 0/1; @@binlog_row_value_options '' or 'PARTIAL_JSON'.
  binlogTransactionCompression: '0',
  binlogRowValueOptions: '',
};

function fakeDb(settings: ServerSettings, grants: string[] = []): PreflightDb {
  return {
    conn: parseMysqlUrl('mysql://u:p@db.example:3306/'),
    settings: () => Promise.resolve(settings),
    grants: () => Promise.resolve(grants),
  };
}

const silent = createLogger('silent');

void describe('preflight: binlog settings zongji cannot read', () => {
  void it('accepts MariaDB (no such variables) and MySQL 8 with both off', async () => {
    assert.equal((await preflight(fakeDb(MARIADB_10_11), silent)).version, MARIADB_10_11.version);
    assert.equal((await preflight(fakeDb(MYSQL_8_4), silent)).version, '8.4.3');
  });

  void it('refuses binlog_transaction_compression=ON with UCW_ERR_SOURCE_BINLOG_COMPRESSION and the SET GLOBAL', async () => {
    await assert.rejects(preflight(fakeDb({ ...MYSQL_8_4, binlogTransactionCompression: '1' }), silent), (e: BridgeError) => {
      assert.equal(e.code, 'UCW_ERR_SOURCE_BINLOG_COMPRESSION');
      assert.equal(e.retryable, false);
      assert.match(e.message, /binlog_transaction_compression is ON on db\.example:3306/);
      assert.match(e.hint ?? '', /SET GLOBAL binlog_transaction_compression = OFF/);
      return true;
    });
  });

  void it('refuses binlog_row_value_options=PARTIAL_JSON with UCW_ERR_SOURCE_PARTIAL_JSON and the SET GLOBAL', async () => {
    await assert.rejects(preflight(fakeDb({ ...MYSQL_8_4, binlogRowValueOptions: 'PARTIAL_JSON' }), silent), (e: BridgeError) => {
      assert.equal(e.code, 'UCW_ERR_SOURCE_PARTIAL_JSON');
      assert.equal(e.retryable, false);
      assert.match(e.hint ?? '', /SET GLOBAL binlog_row_value_options = ''/);
      return true;
    });
  });
});
