import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBridgeError } from '../../src/errors.js';
import { adminClientFor, withBridgeOrStore } from '../../src/ops/admin-client.js';
import { writeAdminFiles } from '../../src/ops/admin-endpoint.js';

const TOKEN = 'admin-client-token-0123456789';

void describe('admin client', () => {
  let dir = '';
  let server: Server;
  let port = 0;
  const seen: Array<{ method?: string; headers: IncomingHttpHeaders }> = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-admin-client-'));
    server = createServer((req, res) => {
      seen.push({ method: req.method, headers: req.headers });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  void it('sends content-type application/json on every POST, with or without a body', async () => {
    writeAdminFiles(dir, { host: '127.0.0.1', port, pid: process.pid }, TOKEN);
    seen.length = 0;
    const client = adminClientFor(dir);
    assert.deepEqual(await client.call('POST', '/api/x'), { ok: true });
    assert.deepEqual(await client.call('POST', '/api/x', { a: 1 }), { ok: true });
    assert.deepEqual(
      seen.map((s) => [s.method, s.headers['content-type'], s.headers.authorization]),
      [
        ['POST', 'application/json', `Bearer ${TOKEN}`],
        ['POST', 'application/json', `Bearer ${TOKEN}`],
      ],
    );
  });

  void it('does not dial when the pid in admin.json is not alive (another process holds the dir)', async () => {
    // A pid that has exited: its admin.json is stale, and whoever holds the lock now is not a bridge.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeAdminFiles(dir, { host: '127.0.0.1', port, pid: gone }, TOKEN);
    seen.length = 0;
    await assert.rejects(
      async () => adminClientFor(dir).call('POST', '/api/x', { a: 1 }),
      (err: unknown) =>
        isBridgeError(err) &&
        err.code === 'UCW_ERR_ADMIN_UNREACHABLE' &&
        /another process/i.test(err.hint ?? '') &&
        err.details?.pid === gone,
    );
    assert.deepEqual(seen, [], 'nothing was sent');
  });

  void it('refuses a state dir without a store (a mistyped --state-dir) and creates nothing', async () => {
    const work = {
      offline: () => 'offline',
      online: () => Promise.resolve('online'),
    };
    const isMissing = (err: unknown) =>
      isBridgeError(err) && err.code === 'UCW_ERR_STATE_MISSING' && /--state-dir/.test(err.hint ?? '');
    const typo = join(dir, 'no-such-dir');
    await assert.rejects(async () => withBridgeOrStore(typo, work), isMissing);
    assert.equal(existsSync(typo), false, 'no directory was created');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await assert.rejects(async () => withBridgeOrStore(empty, work), isMissing);
    assert.deepEqual(readdirSync(empty), [], 'no store, lock or other file was created');
  });
});
