import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoreStatus } from '../../src/outbox/status-queries.js';
import { statusRoutes } from '../../src/ops/status-routes.js';
import type { StatusSnapshot } from '../../src/ops/status-types.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const A = 'http://127.0.0.1:9/a';

void describe('status routes of the admin API', () => {
  let reads = 0;
  let now = T0;
  const store: StoreStatus = {
    checkpoint: { file: 'binlog.000001', pos: 4 },
    urls: [{ url: A, pending: 3, retrying: 1, dead: 0, cancelled: 0, oldestPendingAtMs: T0 - 60_000 }],
    deadLetters: [],
  };
  const routes = statusRoutes({
    version: '9.9.9',
    outbox: {
      status: () => {
        reads++;
        return store;
      },
    },
    urlStates: () => [{ url: A, inFlight: 2, mode: 'paused', untilMs: T0 + 30_000 }],
    registeredUrls: () => [A, 'http://127.0.0.1:9/quiet'],
    source: { connected: false, lastError: 'UCW_ERR_SOURCE_CONNECT: cannot reach' },
    server: () => ({ lagBytes: 42 }),
    now: () => now,
  });
  const get = async (path: string) => {
    const route = routes.find((r) => r.path === path)!;
    assert.equal(route.method, 'GET');
    assert.equal(route.access, 'read');
    return route.handle({ query: new URLSearchParams(), body: undefined });
  };

  void it('answers GET /api/status with the live snapshot, registered URLs included', async () => {
    const answer = await get('/api/status');
    assert.equal(answer.status, 200);
    const s = (answer as { json: StatusSnapshot }).json;
    assert.equal(s.from, 'bridge');
    assert.deepEqual(s.source, {
      connected: false,
      lastError: 'UCW_ERR_SOURCE_CONNECT: cannot reach',
      checkpoint: { file: 'binlog.000001', position: 4 },
      lagBytes: 42,
    });
    assert.deepEqual(
      s.urls.map((u) => [u.url, u.state, u.pending, u.inFlight, u.pausedUntil, u.oldestPendingAgeSeconds]),
      [
        [A, 'paused', 3, 2, new Date(T0 + 30_000).toISOString(), 60],
        ['http://127.0.0.1:9/quiet', 'ok', 0, 0, undefined, undefined],
      ],
    );
  });

  void it('serves the page at / and reads the store at most every 2 s', async () => {
    reads = 0;
    now = T0 + 10_000;
    const page = (await get('/')) as { status: number; html: string };
    assert.equal(page.status, 200);
    assert.match(page.html, /data-url="http:\/\/127\.0\.0\.1:9\/a" data-state="paused"/);
    now += 1_999;
    await get('/api/status');
    assert.equal(reads, 1, 'cached');
    now += 1;
    await get('/api/status');
    assert.equal(reads, 2, 'read again after 2 s');
  });
});
