import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import pino from 'pino';
import { AdminAuth, isLoopbackHost, presentedToken } from '../../src/observe/admin-auth.js';
import { RouteError, type AdminRoute } from '../../src/observe/admin-api.js';
import { startHealthServer, type HealthServer } from '../../src/observe/http-server.js';
import { Metrics } from '../../src/observe/metrics.js';
import {
  ENDPOINT_FILE,
  readAdminFiles,
  removeAdminFiles,
  TOKEN_FILE,
  writeAdminFiles,
} from '../../src/ops/admin-endpoint.js';

const TOKEN = 'test-admin-token-0123456789';
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
const json = { 'content-type': 'application/json' };
const basic = (t: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`any:${t}`).toString('base64')}`,
});

void describe('admin auth', () => {
  void it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.9.9.9', 'localhost', '::1', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com'])
      assert.equal(isLoopbackHost(h), false, h);
  });

  void it('opens token-free reads only to a loopback Host header (DNS rebinding)', () => {
    const local = new AdminAuth([TOKEN], true);
    for (const host of [
      'localhost',
      'LOCALHOST:9464',
      '127.0.0.1',
      '127.0.0.1:9464',
      '127.3.4.5:1',
      '[::1]',
      '[::1]:9464',
    ])
      assert.equal(local.allows({ headers: { host } }, 'read'), true, host);
    for (const host of ['evil.test', 'evil.test:9464', 'localhost.evil.test', '127.0.0.1.evil.test:9464', '10.0.0.1'])
      assert.equal(local.allows({ headers: { host } }, 'read'), false, host);
    assert.equal(local.allows({ headers: {} }, 'read'), false, 'no Host header');
    // The token still opens them.
    assert.equal(local.allows({ headers: { host: 'evil.test', ...bearer(TOKEN) } }, 'read'), true);
  });

  void it('reads a bearer token, or the password of Basic', () => {
    assert.equal(presentedToken({ headers: bearer('abc') }), 'abc');
    assert.equal(presentedToken({ headers: basic('abc') }), 'abc');
    assert.equal(presentedToken({ headers: {} }), undefined);
    assert.equal(presentedToken({ headers: { authorization: 'Bearer' } }), undefined);
  });

  void it('opens reads on loopback only; writes always need a known token', () => {
    const local = new AdminAuth([TOKEN], true);
    const exposed = new AdminAuth([TOKEN, 'second-token-abcdefgh'], false);
    assert.equal(local.allows({ headers: { host: '127.0.0.1:9464' } }, 'read'), true);
    assert.equal(local.allows({ headers: {} }, 'write'), false);
    assert.equal(local.allows({ headers: bearer('wrong') }, 'write'), false);
    assert.equal(local.allows({ headers: bearer(TOKEN) }, 'write'), true);
    assert.equal(exposed.allows({ headers: {} }, 'read'), false);
    assert.equal(exposed.allows({ headers: basic(TOKEN) }, 'read'), true);
    assert.equal(exposed.allows({ headers: bearer('second-token-abcdefgh') }, 'write'), true);
    assert.equal(new AdminAuth([''], true).allows({ headers: bearer('') }, 'write'), false);
  });
});

void describe('admin routes on the health server', () => {
  let server: HealthServer;
  const seen: unknown[] = [];
  const routes: AdminRoute[] = [
    {
      method: 'GET',
      path: '/api/thing',
      access: 'read',
      handle: ({ query }) => ({ status: 200, json: { q: query.get('q') } }),
    },
    {
      method: 'POST',
      path: '/api/thing',
      access: 'write',
      handle: ({ body }) => {
        seen.push(body);
        if ((body as { bad?: boolean } | undefined)?.bad) throw new RouteError(422, 'bad_thing', 'no such thing');
        return { status: 200, json: { ok: true } };
      },
    },
    { method: 'GET', path: '/', access: 'read', handle: () => ({ status: 200, html: '<p>hi</p>' }) },
  ];
  before(async () => {
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics(),
      readiness: () => ({ ready: true, reasons: [] }),
      logger: pino({ level: 'silent' }),
      routes,
      adminTokens: [TOKEN],
    });
  });
  after(() => server.close());
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const res = await request(`http://127.0.0.1:${server.port}${path}`, { method: method as 'GET', headers, body });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  void it('serves a read without a token on loopback, with its query', async () => {
    const r = await call('GET', '/api/thing?q=1');
    assert.deepEqual([r.status, JSON.parse(r.text)], [200, { q: '1' }]);
    const page = await call('GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  });

  void it('asks for the token on a read whose Host is not loopback (a rebound name)', async () => {
    const rebound = await call('GET', '/api/thing?q=1', { host: `evil.test:${server.port}` });
    assert.equal(rebound.status, 401);
    const withToken = await call('GET', '/api/thing?q=1', { host: `evil.test:${server.port}`, ...bearer(TOKEN) });
    assert.equal(withToken.status, 200);
  });

  void it('refuses a write without the token (401, nothing done) and does it with the token', async () => {
    seen.length = 0;
    const refused = await call('POST', '/api/thing', { 'content-type': 'application/json' }, '{"a":1}');
    assert.equal(refused.status, 401);
    assert.match(String(refused.headers['www-authenticate']), /^Basic/);
    assert.deepEqual(seen, []);
    const done = await call('POST', '/api/thing', { ...bearer(TOKEN), ...json }, '{"a":1}');
    assert.deepEqual([done.status, JSON.parse(done.text)], [200, { ok: true }]);
    assert.deepEqual(seen, [{ a: 1 }]);
  });

  void it('answers 400 to a body that is not JSON, a route error with its code, 405 with Allow', async () => {
    assert.equal((await call('POST', '/api/thing', { ...bearer(TOKEN), ...json }, '{nope')).status, 400);
    const refused = await call('POST', '/api/thing', { ...bearer(TOKEN), ...json }, '{"bad":true}');
    assert.deepEqual(
      [refused.status, JSON.parse(refused.text)],
      [422, { error: 'bad_thing', message: 'no such thing' }],
    );
    const wrong = await call('DELETE', '/api/thing', bearer(TOKEN));
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, POST');
  });

  void it('refuses a POST that is not application/json with 415 (a cross-site form), nothing done', async () => {
    seen.length = 0;
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await call('POST', '/api/thing', { ...basic(TOKEN), 'content-type': type }, '{"a":1}');
      assert.equal(r.status, 415, type);
    }
    assert.equal((await call('POST', '/api/thing', basic(TOKEN), '{"a":1}')).status, 415);
    assert.deepEqual(seen, []);
    const charset = { ...bearer(TOKEN), 'content-type': 'Application/JSON; charset=utf-8' };
    assert.equal((await call('POST', '/api/thing', charset, '{"a":1}')).status, 200);
  });

  void it('refuses a request from another origin with 403, and serves its own origin', async () => {
    seen.length = 0;
    const evil = { ...basic(TOKEN), ...json, origin: 'http://evil.test' };
    assert.equal((await call('POST', '/api/thing', evil, '{"a":1}')).status, 403);
    assert.equal((await call('GET', '/api/thing', { origin: 'http://evil.test' })).status, 403);
    assert.deepEqual(seen, []);
    const own = { ...bearer(TOKEN), ...json, origin: `http://127.0.0.1:${server.port}` };
    assert.equal((await call('POST', '/api/thing', own, '{"a":1}')).status, 200);
    assert.equal((await call('POST', '/api/thing', { ...own, origin: 'null' }, '{"a":1}')).status, 403);
  });

  void it('keeps the probes open and answers 404 elsewhere', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/api/none')).status, 404);
  });
});

void describe('admin endpoint files', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ucw-admin-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('are written 0600, read back, and removed', () => {
    assert.equal(readAdminFiles(dir), undefined);
    writeAdminFiles(dir, { host: '127.0.0.1', port: 9464, pid: 42 }, TOKEN);
    for (const f of [ENDPOINT_FILE, TOKEN_FILE]) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readAdminFiles(dir), { endpoint: { host: '127.0.0.1', port: 9464, pid: 42 }, token: TOKEN });
    removeAdminFiles(dir);
    assert.equal(readAdminFiles(dir), undefined);
  });
});
