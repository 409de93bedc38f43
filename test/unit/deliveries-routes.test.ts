// The admin API's delivery routes against a real store and a recording scheduler: GET lists with the
// filters of the query string (safe URLs, no body even for one delivery), a bad filter is a 400, retry
// requeues in the store and hands the scheduler what to page in again (ucw_outbox_dead follows), an
// empty retry is refused unless it says all, discard and resume name their URL.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Metrics } from '../../src/observe/metrics.js';
import { RouteError, type AdminRoute } from '../../src/observe/admin-api.js';
import { deliveryRoutes } from '../../src/ops/deliveries-routes.js';
import { StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const A = 'http://a.test/hook?token=s3cr3t';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
let pos = 4;
const ev = (id: string): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey: `agent:${id}`,
  occurredAtMs: NOW,
  body: '{"caller":"+59899123456"}',
  urls: [A],
  source: { file: 'binlog.000001', pos: pos++ },
});

void describe('delivery admin routes', () => {
  let dir = '';
  let store: StateStore;
  let metrics: Metrics;
  const calls: Array<[string, unknown]> = [];
  let routes: AdminRoute[] = [];
  const route = (method: string, path: string): AdminRoute =>
    routes.find((r) => r.method === method && r.path === path)!;
  const get = async (query: string) =>
    route('GET', '/api/deliveries').handle({ query: new URLSearchParams(query), body: undefined });
  const post = async (path: string, body: unknown) =>
    route('POST', path).handle({ query: new URLSearchParams(), body });
  const refused = (status: number, re: RegExp) => (err: unknown) =>
    err instanceof RouteError && err.status === status && re.test(err.message);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-routes-'));
    store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => NOW });
    metrics = new Metrics();
    calls.length = 0;
    routes = deliveryRoutes({
      scheduler: {
        requeued: (byUrl) => void calls.push(['requeued', [...byUrl]]),
        discard: (url, events) => (calls.push(['discard', [url, events]]), 3),
        resume: (url) => (calls.push(['resume', url]), 'paused'),
      },
      outbox: store,
      metrics,
      logger: { info: () => undefined, warn: () => undefined },
      now: () => NOW,
    });
    const ds = store.commit({ events: [ev('e1'), ev('e2')], mirror: [], checkpoint: { file: 'binlog.000001', pos } });
    store.markDead(ds[0]!.id, 500, 'UCW_ERR_DELIVERY_EXHAUSTED: spent', NOW);
    store.flushOutcomes();
    metrics.outboxDead.set(1);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('every route says its access: GET is a read, the actions are writes', () => {
    assert.deepEqual(
      routes.map((r) => `${r.method} ${r.path} ${r.access}`),
      [
        'GET /api/deliveries read',
        'POST /api/deliveries/retry write',
        'POST /api/deliveries/discard write',
        'POST /api/urls/resume write',
      ],
    );
  });

  void it('GET lists with the filters; URLs safe; one delivery in detail without its body; 400 and 404', async () => {
    const all = (await get('')) as { status: number; json: { deliveries: Array<Record<string, unknown>> } };
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.json.deliveries.map((d) => [d.eventId, d.state, d.url]),
      [
        ['e2', 'pending', 'http://a.test/hook?[redacted]'],
        ['e1', 'dead', 'http://a.test/hook?[redacted]'],
      ],
    );
    const dead = (await get(`state=dead&url=${encodeURIComponent(A)}&since=1h`)) as typeof all;
    assert.deepEqual(
      dead.json.deliveries.map((d) => d.eventId),
      ['e1'],
    );
    const one = (await get('id=1&detail=1')) as { json: { delivery: Record<string, unknown> } };
    assert.equal(one.json.delivery.eventId, 'e1');
    assert.equal(one.json.delivery.lastError, 'UCW_ERR_DELIVERY_EXHAUSTED: spent');
    assert.equal('body' in one.json.delivery, false, 'the body (personal data) is not served');
    assert.doesNotMatch(JSON.stringify([all, one]), /s3cr3t|59899/);
    await assert.rejects(get('state=failed'), refused(400, /not a delivery state/));
    await assert.rejects(get('since=yesterday'), refused(400, /is not a time/));
    await assert.rejects(get('id=99&detail=1'), refused(404, /no delivery 99/));
  });

  void it('retry requeues in the store, tells the scheduler each URL and lowest id, lowers the gauge', async () => {
    await assert.rejects(post('/api/deliveries/retry', {}), refused(400, /name what to retry/));
    await assert.rejects(post('/api/deliveries/retry', { states: 'dead' }), refused(400, /states must be a list/));
    const r = await post('/api/deliveries/retry', { url: A });
    assert.deepEqual(r, { status: 200, json: { requeued: 1, dead: 1, cancelled: 0 } });
    assert.deepEqual(calls, [['requeued', [[A, { n: 1, minId: 1 }]]]]);
    assert.equal((await metrics.outboxDead.get()).values[0]?.value, 0);
    assert.equal(store.delivery(1)?.status, 0, 'pending again, same id');
    const none = await post('/api/deliveries/retry', { all: true });
    assert.deepEqual(none, { status: 200, json: { requeued: 0, dead: 0, cancelled: 0 } });
  });

  void it('discard and resume go to the scheduler; the URL is required and answered in its safe form', async () => {
    await assert.rejects(post('/api/deliveries/discard', {}), refused(400, /url is required/));
    await assert.rejects(post('/api/urls/resume', { url: 7 }), refused(400, /url is required/));
    await assert.rejects(post('/api/deliveries/discard', { url: A, event: 3 }), refused(400, /event must be a string/));
    assert.deepEqual(await post('/api/deliveries/discard', { url: A, event: 'AgentLog' }), {
      status: 200,
      json: { url: 'http://a.test/hook?[redacted]', discarded: 3 },
    });
    assert.deepEqual(await post('/api/urls/resume', { url: A }), {
      status: 200,
      json: { url: 'http://a.test/hook?[redacted]', was: 'paused' },
    });
    assert.deepEqual(calls, [
      ['discard', [A, ['AgentLog']]],
      ['resume', A],
    ]);
  });
});
