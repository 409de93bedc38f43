// A private MariaDB with the reference schema (or the server in UCW_TEST_MYSQL_URL: external-server.ts),
// and small SQL helpers for writing contact-center traffic in tests. One per test file; every test
// resets the tables it uses.

import mysql, { type Connection } from 'mysql2/promise';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateMariaDb, type PrivateMariaDb } from '../../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../../demo/reference-schema.js';
import {
  binlogStatusSql,
  EXTERNAL_URL_VAR,
  externalServerUrl,
  probeExternalServer,
  useExternalServer,
} from './external-server.js';

// An unusable external server skips the whole file with one line, before any test is registered.
const externalUrl = externalServerUrl();
const external = externalUrl === undefined ? undefined : await probeExternalServer(externalUrl);
if (external?.problem !== undefined) {
  process.stdout.write(`SKIP ${EXTERNAL_URL_VAR}: ${external.problem}\n`);
  process.exit(0);
}

/** The statement that reads the binlog end on the server under test (MySQL 8.4 has no SHOW MASTER STATUS). */
export const BINLOG_STATUS_SQL = binlogStatusSql(external?.version ?? 'MariaDB');

export interface SourceFixture {
  readonly db: PrivateMariaDb;
  readonly admin: Connection;
  /** Runs statements as admin in one transaction (each a [sql, params] pair or a plain string). */
  tx(...statements: Array<string | [string, unknown[]]>): Promise<void>;
  /** Resets users, dispositions, interactions, queue_log and webhooks (urls emptied). */
  reset(): Promise<void>;
  /** A fresh state directory, removed by close(). */
  stateDir(): string;
  close(): Promise<void>;
}

export async function startSourceFixture(): Promise<SourceFixture> {
  const db =
    externalUrl === undefined
      ? await startPrivateMariaDb()
      : await useExternalServer(externalUrl, REFERENCE_SCHEMA_SQL);
  if (externalUrl === undefined) await db.exec(REFERENCE_SCHEMA_SQL);
  const admin = await mysql.createConnection({ uri: db.adminUrl, dateStrings: true, charset: 'utf8mb4_general_ci' });
  const dirs: string[] = [];
  const tx = async (...statements: Array<string | [string, unknown[]]>): Promise<void> => {
    await admin.beginTransaction();
    try {
      for (const st of statements) {
        if (typeof st === 'string') await admin.query(st);
        else await admin.query(st[0], st[1]);
      }
      await admin.commit();
    } catch (err) {
      await admin.rollback();
      throw err;
    }
  };
  return {
    db,
    admin,
    tx,
    reset: async () => {
      await admin.query('DELETE FROM ccdata.users');
      await admin.query('DELETE FROM ccdata.dispositions');
      await admin.query('DELETE FROM ccrepo.interactions');
      await admin.query('DELETE FROM ccrepo.queue_log_repo');
      await admin.query("UPDATE ccdata.webhooks SET url = ''");
    },
    stateDir: () => {
      const d = mkdtempSync(join(tmpdir(), 'ucw-state-'));
      dirs.push(d);
      return d;
    },
    close: async () => {
      await admin.end();
      await db.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** INSERT of one queue_log_repo row. */
export function queueLog(row: {
  time: string;
  event: string;
  agent?: string;
  callid?: string;
  queuename?: string;
  data1?: string | null;
  data2?: string | null;
}): [string, unknown[]] {
  return [
    'INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, ' +
      'agent, event, data1, data2) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [row.time, row.callid ?? '', row.queuename ?? '', row.agent ?? '', row.event, row.data1 ?? null, row.data2 ?? null],
  ];
}

/** Sets the url of the seed row for `event` (seed rows are named after their event). */
export function setUrl(event: string, url: string | null): [string, unknown[]] {
  return ['UPDATE ccdata.webhooks SET url = ? WHERE name = ?', [url, event]];
}
