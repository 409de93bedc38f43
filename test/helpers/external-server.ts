// The integration suite's switch to a server the developer runs (UCW_TEST_MYSQL_URL, a root URL, e.g.
// MySQL 8.4 in docker): it checks the server is MySQL-compatible and configured for the bridge, creates
// a bridge user of its own and the reference schemas, and presents it as a PrivateMariaDb without
// restart(). Invariant: it drops only what the suite creates (the user ucw_bridge, the schemas cc*).

import { randomBytes } from 'node:crypto';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import type { PrivateMariaDb } from '../../demo/mariadb.js';

export const EXTERNAL_URL_VAR = 'UCW_TEST_MYSQL_URL';

/** The external server's URL, or undefined when the suite starts its own private MariaDB. */
export function externalServerUrl(): string | undefined {
  const url = process.env[EXTERNAL_URL_VAR];
  return url === undefined || url === '' ? undefined : url;
}

/**
 * A test option: skip (with the reason) under UCW_TEST_MYSQL_URL, for tests that need a server of
 * their own (restarting it, changing its global settings, purging its binlog).
 */
export function privateServerOnly(why: string): string | false {
  return externalServerUrl() === undefined ? false : `needs a private server (${why}); ${EXTERNAL_URL_VAR} is set`;
}

/** Why the server cannot serve the suite, or undefined when it can (the answers of one root session). */
export function externalServerProblem(v: {
  version: string;
  logBin: number;
  binlogFormat: string;
  binlogRowImage: string;
  binlogRowMetadata: string | null;
}): string | undefined {
  if (!/^\d+\.\d+\.\d+/.test(v.version)) return `server version '${v.version}' is not MySQL-compatible`;
  const unset: string[] = [];
  if (Number(v.logBin) !== 1) unset.push('log_bin=ON');
  if (v.binlogFormat.toUpperCase() !== 'ROW') unset.push('binlog_format=ROW');
  if (v.binlogRowImage.toUpperCase() !== 'FULL') unset.push('binlog_row_image=FULL');
  if ((v.binlogRowMetadata ?? '').toUpperCase() !== 'FULL') unset.push('binlog_row_metadata=FULL');
  return unset.length === 0
    ? undefined
    : `server ${v.version} is not configured for the bridge: needs ${unset.join(', ')}`;
}

/** Probes the server: its VERSION(), or one line of reason when it is unusable (never a throw). */
export async function probeExternalServer(url: string): Promise<{ version?: string; problem?: string }> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
    const [[r]] = await conn.query<RowDataPacket[]>(
      'SELECT VERSION() AS version, @@log_bin AS logBin, @@binlog_format AS binlogFormat, ' +
        '@@binlog_row_image AS binlogRowImage, @@binlog_row_metadata AS binlogRowMetadata',
    );
    const answers = r as Parameters<typeof externalServerProblem>[0];
    return { version: answers.version, problem: externalServerProblem(answers) };
  } catch (err) {
    return { problem: `cannot use it: ${(err as Error).message}` };
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/** The binlog position statement of a server version: MySQL 8.2 added SHOW BINARY LOG STATUS, 8.4 dropped
 * SHOW MASTER STATUS; MariaDB keeps SHOW MASTER STATUS. */
export function binlogStatusSql(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  const mysql82 = !/mariadb/i.test(version) && m !== null && Number(m[1]) * 100 + Number(m[2]) >= 802;
  return mysql82 ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS';
}

// The name the tests grant to (as on the private MariaDB); schemas the tests create are all cc*.
const BRIDGE_USER = 'ucw_bridge';
const SUITE_SCHEMAS = "SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cc%'";

/** Recreates the reference schemas with `schemaSql` and the bridge user; stop() drops them and the tests' cc*. */
export async function useExternalServer(url: string, schemaSql: string): Promise<PrivateMariaDb> {
  const parsed = new URL(url);
  const root = { uri: url, multipleStatements: true, charset: 'utf8mb4' };
  const password = randomBytes(12).toString('hex');
  const run = async (sql: string): Promise<void> => {
    const conn = await mysql.createConnection(root);
    try {
      await conn.query(sql);
    } finally {
      await conn.end();
    }
  };
  const account = `'${BRIDGE_USER}'@'%'`;
  const dropSuiteObjects = async (): Promise<void> => {
    const conn = await mysql.createConnection(root);
    try {
      const [rows] = await conn.query<RowDataPacket[]>(SUITE_SCHEMAS);
      for (const r of rows) await conn.query(`DROP DATABASE \`${String(r.s)}\``);
      await conn.query(`DROP USER IF EXISTS ${account}`);
    } finally {
      await conn.end();
    }
  };
  const conn = await mysql.createConnection(root);
  let isMariaDb: boolean;
  try {
    const [[r]] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
    isMariaDb = /mariadb/i.test(String(r?.v));
  } finally {
    await conn.end();
  }
  // MySQL 8.4 disables mysql_native_password by default: its accounts get caching_sha2_password
  // (mysql2 does the RSA public-key exchange over plain TCP); MariaDB has no caching_sha2_password.
  const create = isMariaDb
    ? `CREATE USER ${account} IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`
    : `CREATE USER ${account} IDENTIFIED WITH caching_sha2_password BY '${password}'`;
  const monitor = isMariaDb ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
  // The suite runs one file at a time: each file's fixture owns the cc* schemas while it runs.
  await dropSuiteObjects();
  await run(schemaSql);
  await run(
    `${create}; GRANT REPLICATION SLAVE, ${monitor} ON *.* TO ${account}; ` +
      `GRANT SELECT ON ccdata.* TO ${account}; GRANT SELECT ON ccrepo.* TO ${account};`,
  );
  const bridge = new URL(url);
  bridge.username = BRIDGE_USER;
  bridge.password = password;
  bridge.pathname = '/';
  let stopping: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port: Number(parsed.port || 3306),
    socket: '',
    dataDir: '',
    pid: -1,
    adminUrl: url,
    bridgeUrl: bridge.toString(),
    exec: run,
    stop: () => {
      stopping ??= dropSuiteObjects();
      return stopping;
    },
  };
}
