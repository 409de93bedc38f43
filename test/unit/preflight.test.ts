import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it, test } from 'node:test';
import type { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { preflight, writePrivileges, type PreflightDb } from '../../src/source/preflight.js';
import type { ServerSettings } from '../../src/source/source-db.js';
import { MARIADB_10_11 } from '../helpers/server-settings.js';

void test('writePrivileges finds what lets a user change the source, and nothing in read-only grants', () => {
  const readOnly = [
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `ucw_bridge`@`%` IDENTIFIED BY PASSWORD '*ABC'",
    'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
    'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
  ];
  assert.deepEqual(writePrivileges(readOnly), []);
  assert.deepEqual(writePrivileges(['GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION']), [
    'ALL PRIVILEGES ON *.*',
    'GRANT OPTION ON *.*',
  ]);
  assert.deepEqual(writePrivileges(['GRANT SELECT, INSERT, UPDATE ON `ccrepo`.* TO `x`@`%`']), [
    'INSERT ON `ccrepo`.*',
    'UPDATE ON `ccrepo`.*',
  ]);
  assert.deepEqual(writePrivileges(['GRANT PROXY ON ``@`%` TO `root`@`localhost`']), []);
});

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
    roleGrants: () => Promise.resolve([]),
  };
}

const silent = createLogger('silent');

void describe('preflight: binlog settings zongji cannot read', () => {
  void it('accepts MariaDB (no such variables) and MySQL 8 with both off', async () => {
    assert.equal((await preflight(fakeDb(MARIADB_10_11), silent)).version, MARIADB_10_11.version);
    assert.equal((await preflight(fakeDb(MYSQL_8_4), silent)).version, '8.4.3');
  });

  void it(
    'refuses binlog_transaction_compression=ON with ' + 'UCW_ERR_SOURCE_BINLOG_COMPRESSION and the SET GLOBAL',
    async () => {
      await assert.rejects(
        preflight(fakeDb({ ...MYSQL_8_4, binlogTransactionCompression: '1' }), silent),
        (e: BridgeError) => {
          assert.equal(e.code, 'UCW_ERR_SOURCE_BINLOG_COMPRESSION');
          assert.equal(e.retryable, false);
          assert.match(e.message, /binlog_transaction_compression is ON on db\.example:3306/);
          assert.match(e.hint ?? '', /SET GLOBAL binlog_transaction_compression = OFF/);
          return true;
        },
      );
    },
  );

  void it(
    'refuses binlog_row_value_options=PARTIAL_JSON ' + 'with UCW_ERR_SOURCE_PARTIAL_JSON and the SET GLOBAL',
    async () => {
      await assert.rejects(
        preflight(fakeDb({ ...MYSQL_8_4, binlogRowValueOptions: 'PARTIAL_JSON' }), silent),
        (e: BridgeError) => {
          assert.equal(e.code, 'UCW_ERR_SOURCE_PARTIAL_JSON');
          assert.equal(e.retryable, false);
          assert.match(e.hint ?? '', /SET GLOBAL binlog_row_value_options = ''/);
          return true;
        },
      );
    },
  );
});

void describe('writePrivileges: what can change the server, as SHOW GRANTS lists it', () => {
  void it(
    'server-changing privileges beyond table writes ' + '(recorded: MariaDB 10.11 role with a default role set)',
    () => {
      assert.deepEqual(writePrivileges(['GRANT RELOAD, FILE, CREATE USER, BINLOG ADMIN ON *.* TO `ucw_writer`']), [
        'RELOAD ON *.*',
        'FILE ON *.*',
        'CREATE USER ON *.*',
        'BINLOG ADMIN ON *.*',
      ]);
      // MySQL 8 lists dynamic privileges in a GRANT of their own, without spaces.
      assert.deepEqual(
        writePrivileges(['GRANT BINLOG_ADMIN,REPLICATION_SLAVE_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `u`@`%`']),
        ['BINLOG_ADMIN ON *.*', 'REPLICATION_SLAVE_ADMIN ON *.*', 'SYSTEM_VARIABLES_ADMIN ON *.*'],
      );
    },
  );

  void it('column privileges and WITH GRANT OPTION', () => {
    assert.deepEqual(writePrivileges(['GRANT SELECT (`a`, `b`), UPDATE (`c`) ON `db`.`t` TO `u`@`%`']), [
      'UPDATE ON `db`.`t`',
    ]);
    assert.deepEqual(writePrivileges(['GRANT SELECT ON `ccdata`.* TO `u`@`%` WITH GRANT OPTION']), [
      'GRANT OPTION ON `ccdata`.*',
    ]);
  });

  void it('the read-only grants of README "Grants" (MariaDB and MySQL) give none', () => {
    assert.deepEqual(
      writePrivileges([
        'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `ucw_bridge`@`%`',
        'GRANT SELECT, SHOW VIEW ON `ccrepo`.* TO `ucw_bridge`@`%`',
        'GRANT USAGE ON *.* TO `ucw_bridge`@`%`',
        'GRANT `ucw_reader` TO `ucw_bridge`@`%`',
        'SET DEFAULT ROLE `ucw_reader` FOR `ucw_bridge`@`%`',
      ]),
      [],
    );
  });
});

void describe('preflight: privileges granted through roles', () => {
  const warnings = (): { lines: Array<Record<string, unknown>>; log: ReturnType<typeof createLogger> } => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    return { lines, log: createLogger('warn', sink) };
  };

  void it("reads the grants of every role the user can SET ROLE to, not only the default one's", async () => {
    // Recorded on the fixture: SHOW GRANTS of a user with roles ucw_writer (default) and ucw_other.
    const userGrants = [
      'GRANT `ucw_writer` TO `u1`@`%`',
      'GRANT `ucw_other` TO `u1`@`%`',
      'GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u1`@`%` ' +
        "IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'",
      'GRANT RELOAD, FILE, CREATE USER, BINLOG ADMIN ON *.* TO `ucw_writer`',
      'GRANT INSERT, UPDATE ON `ccrepo_x`.* TO `ucw_writer`',
      'SET DEFAULT ROLE `ucw_writer` FOR `u1`@`%`',
    ];
    const asked: string[][] = [];
    const db = {
      ...fakeDb(MARIADB_10_11, userGrants),
      roleGrants: (roles: readonly string[]) => {
        asked.push([...roles]);
        return Promise.resolve(['GRANT `ucw_other` TO `u1`@`%`', 'GRANT DELETE ON `ccdata`.* TO `ucw_other`']);
      },
    };
    const { lines, log } = warnings();
    await preflight(db, log);
    assert.deepEqual(asked, [['`ucw_writer`', '`ucw_other`']]);
    const warn = lines.find((l) => l.code === 'UCW_WARN_SOURCE_WRITABLE');
    assert.deepEqual(warn?.privileges, [
      'RELOAD ON *.*',
      'FILE ON *.*',
      'CREATE USER ON *.*',
      'BINLOG ADMIN ON *.*',
      'INSERT ON `ccrepo_x`.*',
      'UPDATE ON `ccrepo_x`.*',
      'DELETE ON `ccdata`.*',
    ]);
  });
});
