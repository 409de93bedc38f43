// SourceDb's mapping of server answers to coded errors, with the answers recorded from MySQL 8.4
// (which has no SHOW MASTER STATUS) fed through a stubbed pool; MySQL 8 settings, grants and login failures.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { BridgeError } from '../../src/errors.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { connectionError, SourceDb } from '../../src/source/source-db.js';

function serverError(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno, sqlState: '42000', code: 'ER_X' });
}

/** Makes the pool of `db` answer each query with the next recorded result (rows or a server error). */
function recordedAnswers(db: SourceDb, results: Array<Error | unknown[]>): string[] {
  const sent: string[] = [];
  db.pool.query = ((sql: string) => {
    sent.push(sql);
    const r = results.shift();
    return r instanceof Error ? Promise.reject(r) : Promise.resolve([r, []]);
  }) as typeof db.pool.query;
  return sent;
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
  const answer = (...results: Array<Error | unknown[]>): string[] => recordedAnswers(db, results);

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

void describe('SourceDb on MySQL 8.4: settings, GTID fingerprint, grants (recorded answers)', () => {
  const db = new SourceDb(parseMysqlUrl('mysql://u:p@127.0.0.1:1/'));
  after(() => db.close());
  const answer = (...results: Array<Error | unknown[]>): string[] => recordedAnswers(db, results);

  void it('reads server_uuid and the MySQL-only variables; VERSION() has no "MariaDB"', async () => {
    // Values as the MySQL 8.4 manual documents them: VERSION() like '8.4.3', server_uuid from auto.cnf,
    // binlog_transaction_compression OFF (0), binlog_row_value_options '' (its default).
    answer(
      [{ version: '8.4.3', server_id: 1, log_bin: 1, binlog_format: 'ROW', binlog_row_image: 'FULL' }],
      [{ v: 'FULL' }],
      [{ v: '3e11fa47-71ca-11e1-9e33-c80aa9429562' }],
      [{ v: 0 }],
      [{ v: '' }],
    );
    const s = await db.settings();
    assert.equal(s.isMariaDb, false);
    assert.equal(s.serverUuid, '3e11fa47-71ca-11e1-9e33-c80aa9429562');
    assert.equal(s.binlogRowMetadata, 'FULL');
    assert.equal(s.binlogTransactionCompression, '0');
    assert.equal(s.binlogRowValueOptions, '');
  });

  void it('BINLOG_GTID_POS is MariaDB-only: MySQL 1305 reads as "no GTID fingerprint" (undefined)', async () => {
    // ER_SP_DOES_NOT_EXIST, "FUNCTION %s does not exist" (MySQL 8.4 server error reference).
    answer(serverError(1305, 'FUNCTION BINLOG_GTID_POS does not exist'));
    assert.equal(await db.gtidPositionAt({ file: 'binlog.000001', pos: 4 }), undefined);
  });

  void it('SHOW GRANTS as MySQL 8 prints it, with the dynamic privileges on a line of their own', async () => {
    // The statement format of MySQL 8.4's SHOW GRANTS (manual, "SHOW GRANTS Statement"): backquoted
    // names, static privileges in one GRANT, dynamic ones (here none needed) in another.
    const printed = [
      'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `ucw_bridge`@`%`',
      'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
      'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
    ];
    answer(printed.map((g) => ({ 'Grants for ucw_bridge@%': g })));
    assert.deepEqual(await db.grants(), printed);
  });
});

void describe('connectionError: MySQL 8 caching_sha2_password', () => {
  void it('1045 (what a server without an RSA key pair answers to the key request) hints TLS/RSA/socket', () => {
    // sha2_password.cc: over an insecure connection without RSA keys the plugin fails (CR_ERROR), and
    // the client gets ER_ACCESS_DENIED_ERROR, "Access denied for user '%s'@'%s' (using password: %s)".
    const e = connectionError(
      serverError(1045, "Access denied for user 'ucw_bridge'@'172.17.0.1' (using password: YES)"),
      '127.0.0.1:3306',
    );
    assert.equal(e.code, 'UCW_ERR_SOURCE_AUTH');
    assert.equal(e.message, 'the source server 127.0.0.1:3306 refused the user or password');
    assert.match(e.hint ?? '', /caching_sha2_password account needs a secure connection or the RSA key exchange/);
    assert.match(e.hint ?? '', /caching_sha2_password_auto_generate_rsa_keys=ON/);
    assert.match(e.hint ?? '', /\?socket=/);
  });

  for (const message of [
    // mysql2 3.x lib/auth_plugins/caching_sha2_password.js: an AuthMoreData packet it does not expect.
    'Invalid AuthMoreData packet received by caching_sha2_password plugin in STATE_TOKEN_SENT state.',
    // mysql2 3.x lib/commands/auth_switch.js: a plugin it lacks (MariaDB's ed25519 here).
    'Server requests authentication using unknown plugin client_ed25519. See TODO: add plugins doco ' +
      'here on how to configure or author authentication plugins.',
  ]) {
    void it(`mysql2's AUTH_SWITCH_PLUGIN_ERROR is UCW_ERR_SOURCE_AUTH: ${message.slice(0, 40)}...`, () => {
      // Both paths set code AUTH_SWITCH_PLUGIN_ERROR and fatal (client_handshake.js, auth_switch.js).
      const err = Object.assign(new Error(message), { code: 'AUTH_SWITCH_PLUGIN_ERROR', fatal: true });
      const e = connectionError(err, '127.0.0.1:3306');
      assert.equal(e.code, 'UCW_ERR_SOURCE_AUTH');
      assert.equal(e.retryable, true);
      assert.equal(e.message, `the source server 127.0.0.1:3306 and mysql2 could not complete the login (${message})`);
      assert.match(e.hint ?? '', /ed25519, PARSEC and unix_socket are not supported/);
      assert.match(e.hint ?? '', /caching_sha2_password_auto_generate_rsa_keys=ON/);
    });
  }
});
