// The store queries behind `deliveries list|show|retry` on a real SQLite store in a temp dir: every
// filter (URL, event, state with retrying apart from pending, time, ids), newest first with a limit,
// staged rows never shown; show with the body; requeue only of dead (and asked-for cancelled) rows,
// with the same ids and a fresh budget; the dead/cancelled cap's oldest-first deletion.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { requeueStates } from '../../src/outbox/delivery-queries.js';
import { DeliveryStatus, OUTBOX_FILE, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const A = 'http://a.test/hook';
const B = 'http://b.test/hook?token=s3cr3t';
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const MIN = 60_000;

let pos = 4;
const ev = (id: string, name: EnqueuedEvent['name'], urls: string[]): EnqueuedEvent => ({
  id,
  name,
  orderKey: `agent:${id}`,
  occurredAtMs: T0 - 1_000,
  body: `{"event":"${name}","id":"${id}"}`,
  urls,
  source: { file: 'binlog.000001', pos: pos++ },
});

void describe('delivery queries', () => {
  let dir = '';
  let clock = T0;
  let store: StateStore;
  /** Delivery ids by `${eventId} ${url}`. */
  const ids = new Map<string, number>();
  const commit = (...events: EnqueuedEvent[]): void => {
    for (const d of store.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos } }))
      ids.set(`${d.eventId} ${d.url}`, d.id);
  };
  const id = (eventId: string, url = A): number => ids.get(`${eventId} ${url}`)!;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-dq-'));
    clock = T0;
    store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock });
    ids.clear();
    // T0: p1 pending (A), r1 retrying (A); T0+10m: d1 delivered (A), x1 dead (A, B); T0+20m: c1 cancelled (B).
    commit(ev('p1', 'AgentLog', [A]), ev('r1', 'AgentBreak', [A]));
    store.markRetry(id('r1'), T0 + MIN, 500, 'UCW_ERR_DELIVERY_HTTP_STATUS: 500', T0);
    clock = T0 + 10 * MIN;
    commit(ev('d1', 'AgentLog', [A]), ev('x1', 'AgentLog', [A, B]));
    store.markDelivered(id('d1'), A, 200, clock);
    store.markDead(id('x1'), 400, 'UCW_ERR_DELIVERY_HTTP_STATUS: 400', clock);
    store.markDead(id('x1', B), null, 'UCW_ERR_DELIVERY_EXHAUSTED: spent', clock);
    clock = T0 + 20 * MIN;
    commit(ev('c1', 'AgentLog', [B]));
    store.cancelPending(B, undefined, [], 'UCW_WARN_DELIVERY_CANCELLED: discarded by the operator');
    // A transaction read in parts, not committed yet: never shown.
    store.stage([ev('s1', 'AgentLog', [A])]);
    store.flushOutcomes();
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const listed = (f: Parameters<StateStore['deliveries']['list']>[0], limit = 100): string[] =>
    store.deliveries.list(f, limit).deliveries.map((d) => `${d.eventId}:${d.state}${d.url === B ? ':B' : ''}`);

  void it('lists newest first with each state; staged rows are not shown; limit', () => {
    assert.deepEqual(listed({}), [
      'c1:cancelled:B',
      'x1:dead:B',
      'x1:dead',
      'd1:delivered',
      'r1:retrying',
      'p1:pending',
    ]);
    assert.deepEqual(listed({}, 2), ['c1:cancelled:B', 'x1:dead:B']);
  });

  void it('filters by URL (exactly), event, state, time and id, combined with AND', () => {
    assert.deepEqual(listed({ url: B }), ['c1:cancelled:B', 'x1:dead:B']);
    assert.deepEqual(listed({ url: 'http://b.test/hook' }), [], 'a URL is matched exactly');
    assert.deepEqual(listed({ event: 'AgentBreak' }), ['r1:retrying']);
    assert.deepEqual(listed({ states: ['pending'] }), ['p1:pending']);
    assert.deepEqual(listed({ states: ['retrying'] }), ['r1:retrying']);
    assert.deepEqual(listed({ states: ['dead', 'cancelled'] }), ['c1:cancelled:B', 'x1:dead:B', 'x1:dead']);
    assert.deepEqual(listed({ sinceMs: T0 + 10 * MIN }), ['c1:cancelled:B', 'x1:dead:B', 'x1:dead', 'd1:delivered']);
    assert.deepEqual(listed({ untilMs: T0 + 10 * MIN }), ['r1:retrying', 'p1:pending']);
    assert.deepEqual(listed({ sinceMs: T0 + 5 * MIN, untilMs: T0 + 15 * MIN, url: A }), ['x1:dead', 'd1:delivered']);
    assert.deepEqual(listed({ ids: [id('p1'), id('c1', B), 9_999] }), ['c1:cancelled:B', 'p1:pending']);
    assert.deepEqual(listed({ url: A, states: ['cancelled'] }), []);
  });

  void it('a summary carries attempts, last status and error and the times; show adds the body and source', () => {
    const [dead] = store.deliveries.list({ url: A, states: ['dead'] }, 1).deliveries;
    assert.deepEqual(dead, {
      id: id('x1'),
      url: A,
      eventId: 'x1',
      eventName: 'AgentLog',
      state: 'dead',
      attempts: 1,
      lastStatus: 400,
      lastError: 'UCW_ERR_DELIVERY_HTTP_STATUS: 400',
      createdAtMs: T0 + 10 * MIN,
      updatedAtMs: T0 + 10 * MIN,
      nextAttemptAtMs: T0 + 10 * MIN,
    });
    const shown = store.deliveries.show(id('x1'));
    assert.equal(shown?.body, '{"event":"AgentLog","id":"x1"}');
    assert.equal(shown?.orderKey, 'agent:x1');
    assert.equal(shown?.firstAttemptAtMs, T0 + 10 * MIN);
    assert.equal(shown?.occurredAtMs, T0 - 1_000);
    assert.equal(shown?.source.file, 'binlog.000001');
    assert.equal(store.deliveries.show(9_999), undefined);
  });

  void it('list examines a bounded number of rows, newest first, and says when it stopped short', () => {
    // 40 newer deliveries to B above the fixture's rows: a filter on A must walk past them. (This commit
    // ends the staged transaction too, so s1 is listed from here on.)
    for (let i = 0; i < 40; i++) commit(ev(`n${i}`, 'AgentLog', [B]));
    store.flushOutcomes();
    const newest = id('n39', B);
    const bound = { windowRows: 10, maxRows: 30 };
    // A's rows lie more than 30 ids below the newest: not reached, and the answer says where it stopped.
    const cut = store.deliveries.list({ url: A }, 10, bound);
    assert.deepEqual(cut.deliveries, []);
    assert.deepEqual(cut.cut, { examinedRows: 30, belowId: newest - 29 });
    // Enough matches within the bound: no cut, and the walk crossed windows to fill the limit.
    const filled = store.deliveries.list({ url: B }, 25, bound);
    assert.equal(filled.deliveries.length, 25);
    assert.equal(filled.deliveries[0]!.id, newest);
    assert.equal(filled.cut, undefined);
    // A bound that reaches the oldest row: everything, no cut.
    const all = store.deliveries.list({ url: A }, 10, { windowRows: 10, maxRows: 1_000 });
    assert.deepEqual(
      all.deliveries.map((d) => d.eventId),
      ['s1', 'x1', 'd1', 'r1', 'p1'],
    );
    assert.equal(all.cut, undefined);
    // By ids: no walk, never cut.
    assert.equal(store.deliveries.list({ ids: [id('p1')] }, 10, bound).deliveries[0]?.eventId, 'p1');
  });

  void it('requeue: dead only by default, cancelled when asked or named by id; same ids, fresh budget', () => {
    assert.deepEqual(requeueStates({}), ['dead']);
    assert.deepEqual(requeueStates({ ids: [1] }), ['dead', 'cancelled']);
    assert.deepEqual(requeueStates({ states: ['pending', 'cancelled'] }), ['cancelled'], 'pending is never requeued');
    clock = T0 + 30 * MIN;
    const r = store.deliveries.requeue({ url: B });
    assert.equal(r.total, 1);
    assert.equal(r.dead, 1);
    assert.deepEqual([...r.byUrl], [[B, { n: 1, minId: id('x1', B) }]]);
    assert.deepEqual(listed({ url: B }), ['c1:cancelled:B', 'x1:pending:B']);
    const row = store.delivery(id('x1', B))!;
    assert.equal(row.eventId, 'x1', 'same event id');
    assert.equal(row.attempts, 0);
    assert.equal(row.firstAttemptAtMs, null);
    assert.equal(row.nextAttemptAtMs, T0 + 30 * MIN, 'due now');
    // By id: a cancelled one, and a pending and a delivered one that are left alone.
    const byId = store.deliveries.requeue({ ids: [id('c1', B), id('p1'), id('d1')] });
    assert.deepEqual([byId.total, byId.dead], [1, 0]);
    assert.deepEqual(listed({ url: B }), ['c1:pending:B', 'x1:pending:B']);
    assert.deepEqual(listed({ url: A }), ['x1:dead', 'd1:delivered', 'r1:retrying', 'p1:pending']);
    assert.equal(store.deliveries.requeue({ states: ['pending'] }).total, 0);
    assert.equal(store.deliveries.requeue({}).total, 1, 'the last dead letter');
    assert.equal(store.backlog().dead, 0);
  });

  void it('the cap: dead and cancelled counted together, the oldest (lowest id) deleted first, events too', () => {
    assert.equal(store.deliveries.deadAndCancelled(), 3);
    assert.deepEqual(store.deliveries.pruneOldestDead(2), { dead: 2, cancelled: 0 });
    assert.deepEqual(listed({ states: ['dead', 'cancelled'] }), ['c1:cancelled:B']);
    assert.equal(store.deliveries.show(id('x1')), undefined);
    assert.deepEqual(store.deliveries.pruneOldestDead(5), { dead: 0, cancelled: 1 });
    assert.deepEqual(store.deliveries.pruneOldestDead(5), { dead: 0, cancelled: 0 });
    store.close();
    const db = new Database(join(dir, OUTBOX_FILE), { readonly: true });
    try {
      assert.deepEqual(db.prepare("SELECT id FROM events WHERE id IN ('x1', 'c1')").all(), [], 'events deleted too');
    } finally {
      db.close();
      store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock });
    }
  });

  void it('prune() deletes delivered rows past retention only, on the delivered index', () => {
    assert.equal(store.prune(T0 + 60 * MIN, 100), 1);
    assert.deepEqual(listed({}).sort(), ['c1:cancelled:B', 'p1:pending', 'r1:retrying', 'x1:dead', 'x1:dead:B']);
    store.close();
    const db = new Database(join(dir, OUTBOX_FILE), { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE status IN (1, 4) AND status = ${DeliveryStatus.delivered}
             AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?`,
        )
        .all(0, 1) as Array<{ detail: string }>;
      assert.match(plan.map((p) => p.detail).join('; '), /USING (COVERING )?INDEX deliveries_done/);
    } finally {
      db.close();
      store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock });
    }
  });
});
