import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { startHealthServer, type HealthServer } from '../../src/observe/http-server.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { ReplayEvent } from '../../src/ops/replay-dedup.js';
import { REPLAY_PATH, replayRoutes, type ReplayAnswer } from '../../src/ops/replay-route.js';
import { StateStore, type Delivery } from '../../src/outbox/state-store.js';

const TOKEN = 'replay-route-token-0123456789';
const A = 'http://a.test/hook';
const B = 'http://b.test/hook';
const ELSEWHERE = 'http://attacker.test/hook';

void describe('POST /api/replay', () => {
  let dir = '';
  let store: StateStore;
  let server: HealthServer;
  const handed: Delivery[][] = [];
  const ev: ReplayEvent = {
    id: 'e1',
    name: 'AgentLog',
    orderKey: 'agent:jdoe',
    occurredAtMs: 1_000,
    body: '{"event":"AgentLog"}',
    urls: [A, B],
    source: { file: 'bin.000001', pos: 100 },
    span: { from: 100, to: 150 },
  };
  const post = async (body: unknown, token = TOKEN): Promise<{ status: number; json: unknown }> => {
    const res = await request(`http://127.0.0.1:${server.port}${REPLAY_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, json: await res.body.json() };
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-replay-route-'));
    store = new StateStore({ stateDir: dir, synchronous: 'normal' });
    // A was delivered the first time; B was registered later.
    const [first] = store.commit({
      events: [{ ...ev, urls: [A] }],
      mirror: [],
      checkpoint: { file: 'bin.000001', pos: 200 },
    });
    store.markDelivered(first!.id, first!.url, 200, 900);
    store.flushOutcomes();
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics(),
      logger: pino({ level: 'silent' }),
      readiness: () => ({ ready: true, reasons: [] }),
      routes: replayRoutes({
        outbox: store,
        enqueue: (created) => handed.push(created),
        registeredUrlsFor: (event) => (event === 'AgentLog' ? [A, B] : []),
      }),
      adminTokens: [TOKEN],
    });
  });
  after(async () => {
    await server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('needs the token (a write)', async () => {
    assert.equal((await post({ force: false, events: [ev] }, 'wrong-token-0123456789')).status, 401);
    assert.equal(handed.length, 0);
  });

  void it('refuses a malformed body with 400 and changes nothing', async () => {
    const r = await post({ force: false, events: [{ ...ev, name: 'NoSuchEvent' }] });
    assert.equal(r.status, 400);
    assert.equal((r.json as { error: string }).error, 'bad_request');
    assert.equal(handed.length, 0);
  });

  void it('refuses a URL not registered for the event with 400 and changes nothing', async () => {
    const foreign = await post({ force: true, events: [{ ...ev, id: 'e9', urls: [A, ELSEWHERE] }] });
    assert.equal(foreign.status, 400);
    assert.equal((foreign.json as { error: string }).error, 'url_not_registered');
    // A registered for AgentLog only: replaying it as another event is refused too.
    const otherEvent = await post({ force: true, events: [{ ...ev, id: 'e8', name: 'AgentBreak', urls: [A] }] });
    assert.equal(otherEvent.status, 400);
    assert.equal(handed.length, 0);
  });

  void it('inserts the never-delivered pairs and hands exactly those to the scheduler', async () => {
    const r = await post({ force: false, events: [ev] });
    assert.equal(r.status, 200);
    const answer = r.json as ReplayAnswer;
    assert.deepEqual(answer.decisions, [
      [
        { url: A, enqueue: false, reason: 'delivered' },
        { url: B, enqueue: true, reason: 'new' },
      ],
    ]);
    assert.equal(answer.enqueued, 1);
    assert.deepEqual(
      handed.flat().map((d) => [d.eventId, d.url]),
      [['e1', B]],
    );
    // Posted again (a second replay): B is pending now, nothing is added.
    const again = (await post({ force: false, events: [ev] })).json as ReplayAnswer;
    assert.equal(again.enqueued, 0);
    assert.equal(again.decisions[0]![1]!.reason, 'pending');
    assert.equal(handed.length, 1);
  });
});
