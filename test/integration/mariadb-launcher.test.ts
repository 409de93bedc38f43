// Checks the private MariaDB launcher that every integration test and the demo rely on: binlog
// ROW/FULL/FULL, the bridge user's least privileges, the reference schema, utf8mb4, and that
// stop() leaves no process and no temp dir behind. Also guards docker/init/01-schema.sql drift.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import {
  findMariaDbBinaries,
  MARIADB_MISSING_HINT,
  startPrivateMariaDb,
  type PrivateMariaDb,
} from '../../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../../demo/reference-schema.js';
import { waitFor } from '../helpers/wait-for.js';
import { EVENT_NAMES } from '../../src/domain/events.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withConnection<T>(url: string, fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({ uri: url, charset: 'utf8mb4' });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

void describe('private MariaDB launcher', () => {
  let db: PrivateMariaDb | undefined;
  let startupMs = 0;
  const server = (): PrivateMariaDb => {
    assert.ok(db, 'server did not start');
    return db;
  };

  before(async () => {
    assert.ok(findMariaDbBinaries(), MARIADB_MISSING_HINT);
    const t0 = performance.now();
    db = await startPrivateMariaDb();
    startupMs = Math.round(performance.now() - t0);
    await db.exec(REFERENCE_SCHEMA_SQL);
  });

  after(async () => {
    await db?.stop();
  });

  void test('binlog is on, ROW, FULL image, FULL metadata (seen by the bridge user)', async (t) => {
    t.diagnostic(`private MariaDB ready in ${startupMs} ms`);
    const [rows] = await withConnection(server().bridgeUrl, (c) =>
      c.query<mysql.RowDataPacket[]>(
        'SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, ' +
          '@@binlog_row_metadata AS metadata',
      ),
    );
    assert.deepEqual({ ...rows[0] }, { logBin: 1, format: 'ROW', image: 'FULL', metadata: 'FULL' });
  });

  void test('the bridge user can read but not write, and can see the binlog position', async () => {
    await withConnection(server().bridgeUrl, async (c) => {
      await assert.rejects(
        c.query("INSERT INTO ccrepo.queue_log_repo (time, event) VALUES (NOW(3), 'PAUSE')"),
        (err: { code?: string }) => err.code === 'ER_TABLEACCESS_DENIED_ERROR',
      );
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo');
      assert.equal(Number(rows[0]?.['n']), 0);
      const [status] = await c.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
      assert.match(String(status[0]?.['File']), /^binlog\.\d+$/);
      assert.ok(Number(status[0]?.['Position']) > 0);
    });
  });

  void test('the reference schema is loaded with the six seed webhooks', async () => {
    const [rows] = await withConnection(server().bridgeUrl, (c) =>
      c.query<mysql.RowDataPacket[]>('SELECT event, url FROM ccdata.webhooks ORDER BY id'),
    );
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      EVENT_NAMES.map((event) => ({ event, url: '' })),
    );
  });

  void test('utf8mb4 round-trips through exec() and mysql2', async () => {
    const name = 'Zoë 🦊 Agent 名前';
    await server().exec(
      `INSERT INTO ccdata.users (username, phone, name) VALUES ('zoe', '2001', '${name}');` +
        `INSERT INTO ccdata.users (username, name) VALUES ('exec2', 'second statement');`,
    );
    const [rows] = await withConnection(server().bridgeUrl, (c) =>
      c.query<mysql.RowDataPacket[]>(
        "SELECT name FROM ccdata.users WHERE username IN ('zoe', 'exec2') ORDER BY username",
      ),
    );
    assert.deepEqual(
      rows.map((r) => r['name'] as unknown),
      ['second statement', name],
    );
  });

  void test('restart keeps the data, the port and the socket', async () => {
    const db = server();
    assert.ok(db.restart, 'restart() is implemented');
    const oldPid = db.pid;
    await db.restart();
    assert.notEqual(db.pid, oldPid);
    assert.equal(isAlive(oldPid), false);
    const [rows] = await withConnection(db.bridgeUrl, (c) =>
      c.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n, @@socket AS socket FROM ccdata.webhooks'),
    );
    assert.equal(Number(rows[0]?.['n']), 6, 'the six seed webhooks survive the restart');
    assert.equal(rows[0]?.['socket'], db.socket);
  });

  void test('stop() ends the process, removes the temp dir, and is idempotent', async () => {
    const db = server();
    const pid = db.pid;
    const tempDir = path.dirname(db.dataDir);
    assert.ok(isAlive(pid));
    await Promise.all([db.stop(), db.stop()]);
    await db.stop();
    await waitFor(() => !isAlive(pid), { timeoutMs: 5_000, message: `mariadbd ${pid} still running` });
    assert.equal(existsSync(db.dataDir), false);
    assert.equal(existsSync(tempDir), false);
    assert.equal(existsSync(db.socket), false);
    await assert.rejects(db.exec('SELECT 1'), /stopped/);
  });
});

void test('docker/init/01-schema.sql is the embedded reference schema', async () => {
  const file = path.join(import.meta.dirname, '../../docker/init/01-schema.sql');
  assert.equal(await readFile(file, 'utf8'), REFERENCE_SCHEMA_SQL);
});
