import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventName } from '../../src/domain/events.js';
import { BridgeError } from '../../src/errors.js';
import {
  DeliveryStatus,
  StateStore,
  OUTBOX_FILE,
  type CommitBatch,
  type EnqueuedEvent,
} from '../../src/outbox/state-store.js';

const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const HOUR = 3_600_000;

function event(id: string, urls: string[], over: Partial<EnqueuedEvent> = {}): EnqueuedEvent {
  const name: EventName = over.name ?? 'AgentLog';
  return {
    id,
    name,
    orderKey: 'agent:jdoe',
    occurredAtMs: T0 - 1000,
    body: `{"event":"${name}","date":"2026-03-02 13:59:59","agent":"jdoe","isLogin":true}`,
    urls,
    source: { file: 'binlog.000001', pos: 4_000 },
    ...over,
  };
}

/** Ids of every pending delivery, over all URLs, in id order. */
function pendingIds(o: StateStore): number[] {
  return [...o.pendingByUrl().keys()]
    .flatMap((url) => o.pendingPage(url, 0, 1_000).map((d) => d.id))
    .sort((a, b) => a - b);
}

const batch = (events: EnqueuedEvent[], pos: number, mirror: CommitBatch['mirror'] = []): CommitBatch => ({
  events,
  mirror,
  checkpoint: { file: 'binlog.000001', pos },
});

void describe('StateStore', () => {
  let dir = '';
  let clock = T0;
  const opened: StateStore[] = [];
  const open = (): StateStore => {
    const o = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock });
    opened.push(o);
    return o;
  };
  /** Raw read-only view of the store, for what the API does not expose (events table). */
  const rawCount = (table: 'events' | 'deliveries'): number => {
    const db = new Database(join(dir, OUTBOX_FILE), { readonly: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-outbox-'));
    clock = T0;
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('starts empty, with no checkpoint and the schema version recorded', () => {
    const o = open();
    assert.equal(o.checkpoint(), undefined);
    assert.deepEqual(o.counts(), { pending: 0, delivered: 0, dead: 0 });
    assert.deepEqual([...o.pendingByUrl()], []);
    assert.equal(o.getMeta('schema_version'), '3');
    assert.deepEqual(o.mirrorRows('ccdata.users'), []);
  });

  void it('commit() stores events x urls and the checkpoint, returning the created deliveries', () => {
    const o = open();
    const created = o.commit(
      batch(
        [
          event('e1', ['https://a.example/', 'https://b.example/']),
          event('e2', ['https://a.example/'], {
            name: 'FinishInteraction',
            orderKey: 'guid:g-1',
            body: '{"event":"FinishInteraction"}',
          }),
        ],
        4_100,
      ),
    );
    assert.equal(created.length, 3);
    assert.deepEqual(
      created.map(({ url, orderKey, eventName }) => ({ url, orderKey, eventName })),
      [
        { url: 'https://a.example/', orderKey: 'agent:jdoe', eventName: 'AgentLog' },
        { url: 'https://b.example/', orderKey: 'agent:jdoe', eventName: 'AgentLog' },
        { url: 'https://a.example/', orderKey: 'guid:g-1', eventName: 'FinishInteraction' },
      ],
    );
    assert.ok(created[0]!.id < created[1]!.id && created[1]!.id < created[2]!.id);
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 4_100 });
    assert.deepEqual(o.counts(), { pending: 3, delivered: 0, dead: 0 });

    const d = o.delivery(created[2]!.id);
    assert.deepEqual(d, {
      id: created[2]!.id,
      url: 'https://a.example/',
      orderKey: 'guid:g-1',
      status: DeliveryStatus.pending,
      attempts: 0,
      nextAttemptAtMs: T0,
      firstAttemptAtMs: null,
      createdAtMs: T0,
      eventId: 'e2',
      eventName: 'FinishInteraction',
      occurredAtMs: T0 - 1000,
      body: '{"event":"FinishInteraction"}',
    });
    assert.equal(o.delivery(9_999), undefined);
  });

  void it("keeps each event's source commit time; a store from before the column gains it on open", () => {
    const o = open();
    const [live] = o.commit(batch([event('e1', ['https://a.example/'], { committedAtMs: T0 - 5_000 })], 4_100));
    assert.equal(live!.committedAtMs, T0 - 5_000);
    o.close();
    // What an earlier bridge of schema 3 wrote: no committed_at_ms column.
    const db = new Database(join(dir, OUTBOX_FILE));
    db.exec('ALTER TABLE events DROP COLUMN committed_at_ms');
    db.close();
    clock = T0 + 1_000;
    const ro = new StateStore({ stateDir: dir, synchronous: 'normal', readonly: true });
    assert.deepEqual(
      ro.pendingPage('https://a.example/', 0, 10).map((d) => d.committedAtMs),
      [T0],
    );
    ro.close();
    const o2 = open();
    o2.commit(batch([event('e2', ['https://a.example/'], { committedAtMs: T0 - 2_000 })], 4_200));
    o2.commit(batch([event('e3', ['https://a.example/'])], 4_300));
    assert.deepEqual(
      o2.pendingPage('https://a.example/', 0, 10).map((d) => [d.eventId, d.committedAtMs]),
      [
        ['e1', T0],
        ['e2', T0 - 2_000],
        ['e3', T0 + 1_000],
      ],
    );
  });

  void it('stores the body byte for byte (utf8mb4 included)', () => {
    const o = open();
    const body =
      '{"event":"AgentBreak","date":"2026-03-02 14:05:09","agent":"mgarcía","motive":"Almuerzo 🍔","isBreak":true}';
    const [c] = o.commit(batch([event('e-utf', ['https://a.example/'], { name: 'AgentBreak', body })], 10));
    assert.equal(o.delivery(c!.id)?.body, body);
  });

  void it('a replayed commit of the same event ids creates no deliveries', () => {
    const o = open();
    const b = batch([event('e1', ['https://a.example/', 'https://b.example/'])], 4_100);
    assert.equal(o.commit(b).length, 2);
    assert.deepEqual(o.commit(b), []);
    assert.deepEqual(o.counts(), { pending: 2, delivered: 0, dead: 0 });
    assert.equal(rawCount('events'), 1);
    // An event is stored with all its deliveries at once: a stored event id is never enqueued again.
    assert.deepEqual(o.commit(batch([event('e1', ['https://a.example/', 'https://c.example/'])], 4_100)), []);
    // Replays after reopening create none either.
    o.close();
    assert.deepEqual(open().commit(b), []);
  });

  void it('staged parts of a transaction are invisible until commit() promotes them with the checkpoint', () => {
    const o = open();
    o.commit(batch([], 4_000));
    const staged = o.stage([
      event('p1', ['https://a.example/']),
      event('p2', ['https://a.example/', 'https://b.example/']),
    ]);
    assert.deepEqual(
      [...staged],
      [
        ['https://a.example/', 2],
        ['https://b.example/', 1],
      ],
      'staged deliveries counted per URL',
    );
    assert.deepEqual(pendingIds(o), [], 'staged deliveries are not pending');
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 4_000 }, 'staging does not move the checkpoint');
    const last = o.commit(batch([event('p3', ['https://a.example/'])], 4_500));
    assert.equal(last.length, 1);
    const a = o.pendingPage('https://a.example/', 0, 10);
    assert.deepEqual(
      a.map((d) => d.eventId),
      ['p1', 'p2', 'p3'],
      'staged first, then the commit, in id order',
    );
    assert.equal(a[2]!.id, last[0]!.id);
    assert.deepEqual(
      o.pendingPage('https://b.example/', 0, 10).map((d) => d.eventId),
      ['p2'],
    );
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 4_500 });
  });

  void it('discardStaged() (and reopening) drops the staged work of an unfinished transaction, nothing else', () => {
    const o = open();
    o.commit(batch([event('c1', ['https://a.example/'])], 4_000));
    o.stage([event('s1', ['https://a.example/']), event('s2', ['https://b.example/'])]);
    assert.equal(rawCount('deliveries'), 3);
    o.close();
    const reopened = open();
    assert.equal(rawCount('deliveries'), 1, 'staged deliveries dropped on open');
    assert.equal(rawCount('events'), 1, 'their events too');
    assert.equal(pendingIds(reopened).length, 1);
    // The transaction is read again: the same events stage again and commit normally.
    reopened.stage([event('s1', ['https://a.example/'])]);
    reopened.discardStaged();
    assert.equal(rawCount('deliveries'), 1);
    const again = reopened.stage([event('s1', ['https://a.example/']), event('s2', ['https://b.example/'])]);
    assert.deepEqual([...again.values()], [1, 1], 'a replayed part stages its deliveries again');
    reopened.commit(batch([], 4_900));
    assert.deepEqual(reopened.counts(), { pending: 3, delivered: 0, dead: 0 });
  });

  void it('does not store events with no urls, but still advances the checkpoint', () => {
    const o = open();
    assert.deepEqual(o.commit(batch([event('nobody', [])], 5_000)), []);
    assert.equal(rawCount('events'), 0);
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 5_000 });
    // A duplicate url inside one event is one delivery.
    assert.equal(o.commit(batch([event('dup', ['https://a.example/', 'https://a.example/'])], 5_100)).length, 1);
  });

  void it('commit() is atomic: a failure stores nothing and keeps the old checkpoint', () => {
    const o = open();
    o.commit(batch([], 1_000));
    const circular: Record<string, unknown> = { username: 'x' };
    circular.self = circular;
    assert.throws(() =>
      o.commit(
        batch([event('e1', ['https://a.example/'])], 2_000, [{ table: 'ccdata.users', pk: 'x', row: circular }]),
      ),
    );
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 1_000 });
    assert.deepEqual(o.counts(), { pending: 0, delivered: 0, dead: 0 });
    assert.equal(rawCount('events'), 0);
    assert.deepEqual(o.mirrorRows('ccdata.users'), []);
    // The same batch without the bad row then goes through in full.
    assert.equal(o.commit(batch([event('e1', ['https://a.example/'])], 2_000)).length, 1);
  });

  void it('mirror rows upsert and delete, survive reopen, and serialize buffers and bigints as text', () => {
    let o = open();
    o.commit(
      batch([], 100, [
        { table: 'ccdata.users', pk: 'jdoe', row: { username: 'jdoe', phone: '2001', name: 'Jane Doe' } },
        { table: 'ccdata.users', pk: 'ana', row: { username: 'ana', phone: Buffer.from('2002'), name: 'Ana 😀' } },
        { table: 'ccdata.webhooks', pk: '1', row: { id: 1n, event: 'AgentLog', url: 'https://a.example/' } },
      ]),
    );
    o.commit(
      batch([], 200, [
        { table: 'ccdata.users', pk: 'jdoe', row: { username: 'jdoe', phone: '2001', name: 'Jane Q. Doe' } },
        { table: 'ccdata.users', pk: 'ana', row: null },
        { table: 'ccdata.users', pk: 'never-there', row: null },
      ]),
    );
    o.close();
    o = open();
    assert.deepEqual(o.mirrorRows('ccdata.users'), [{ username: 'jdoe', phone: '2001', name: 'Jane Q. Doe' }]);
    assert.deepEqual(o.mirrorRows('ccdata.webhooks'), [{ id: '1', event: 'AgentLog', url: 'https://a.example/' }]);
    o.commit(
      batch([], 300, [
        { table: 'ccdata.users', pk: 'ana', row: { username: 'ana', phone: Buffer.from('2002'), name: 'Ana 😀' } },
      ]),
    );
    const users = o.mirrorRows('ccdata.users');
    assert.deepEqual(
      users.find((r) => r.username === 'ana'),
      { username: 'ana', phone: '2002', name: 'Ana 😀' },
    );
    assert.equal(users.length, 2);
  });

  void it('initialize() replaces all mirror rows and sets the first checkpoint', () => {
    const o = open();
    o.commit(batch([], 50, [{ table: 'ccdata.users', pk: 'old', row: { username: 'old' } }]));
    o.initialize(
      [
        { table: 'ccdata.users', rows: [{ pk: 'jdoe', row: { username: 'jdoe' } }] },
        { table: 'ccdata.dispositions', rows: [{ pk: '1', row: { id: 1, parentId: 0, value: 'Sale' } }] },
      ],
      { file: 'binlog.000007', pos: 4 },
    );
    assert.deepEqual(o.mirrorRows('ccdata.users'), [{ username: 'jdoe' }]);
    assert.deepEqual(o.mirrorRows('ccdata.dispositions'), [{ id: 1, parentId: 0, value: 'Sale' }]);
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000007', pos: 4 });
  });

  void it('the checkpoint and meta values survive close/reopen', () => {
    let o = open();
    o.commit(batch([event('e1', ['https://a.example/'])], 1_234));
    o.commit(batch([], 5_678));
    o.setMeta('server_uuid', 'abc');
    o.close();
    o.close(); // closing twice is harmless
    o = open();
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 5_678 });
    assert.equal(o.getMeta('server_uuid'), 'abc');
    assert.deepEqual(o.counts(), { pending: 1, delivered: 0, dead: 0 });
  });

  void it('pendingPage() never returns a delivery whose outcome is still queued (a shed URL pages below it)', () => {
    const o = open();
    const [d1] = o.commit(batch([event('q1', ['https://a.example/'])], 1));
    const [d2] = o.commit(batch([event('q2', ['https://a.example/'])], 2));
    o.markDelivered(d2!.id, d2!.url, 200, T0);
    assert.deepEqual(
      o.pendingPage('https://a.example/', 0, 10).map((d) => d.id),
      [d1!.id],
    );
  });

  void it(
    'pendingByUrl() and pendingPage() list pending deliveries ' +
      'per URL in enqueue order, skipping delivered and dead',
    () => {
      const o = open();
      const a = o.commit(batch([event('e1', ['https://a.example/', 'https://b.example/'])], 1));
      const b = o.commit(batch([event('e2', ['https://a.example/'], { orderKey: 'agent:ana' })], 2));
      const c = o.commit(batch([event('e3', ['https://b.example/'], { orderKey: 'guid:g' })], 3));
      const all = [...a, ...b, ...c];
      assert.deepEqual([...o.pendingByUrl()].sort(), [
        ['https://a.example/', 2],
        ['https://b.example/', 2],
      ]);
      assert.deepEqual(
        pendingIds(o),
        all.map((d) => d.id).sort((x, y) => x - y),
      );
      // A page carries everything an attempt needs, exactly as commit() returned it.
      assert.deepEqual(o.pendingPage('https://b.example/', 0, 10), [all[1], all[3]]);
      assert.deepEqual(o.pendingPage('https://b.example/', all[1]!.id, 10), [all[3]], 'after an id');
      assert.deepEqual(o.pendingPage('https://a.example/', 0, 1), [all[0]], 'limited');
      o.markDelivered(all[0]!.id, all[0]!.url, 200, T0);
      o.markDead(all[2]!.id, 500, 'boom', T0);
      o.markRetry(all[1]!.id, T0 + 60_000, 503, 'busy', T0);
      assert.deepEqual(pendingIds(o), [all[1]!.id, all[3]!.id]);
      assert.deepEqual(o.backlog(), { pending: 2, dead: 1 });
      const retried = o.pendingPage('https://b.example/', 0, 1)[0]!;
      assert.deepEqual([retried.attempts, retried.nextAttemptAtMs, retried.firstAttemptAtMs], [1, T0 + 60_000, T0]);
    },
  );

  void it('markRetry / markDelivered / markDead update attempts, times and counts()', () => {
    const o = open();
    const [d1, d2, d3] = o.commit(batch([event('e1', ['https://a/', 'https://b/', 'https://c/'])], 1));
    clock = T0 + 1_000;
    o.markRetry(d1!.id, T0 + 5_000, 503, 'HTTP 503', T0 + 500);
    clock = T0 + 6_000;
    o.markRetry(d1!.id, T0 + 20_000, null, 'ECONNREFUSED', T0 + 5_500);
    let r = o.delivery(d1!.id)!;
    assert.equal(r.status, DeliveryStatus.pending);
    assert.equal(r.attempts, 2);
    assert.equal(r.nextAttemptAtMs, T0 + 20_000);
    assert.equal(r.firstAttemptAtMs, T0 + 500, 'the first attempt time is kept');
    clock = T0 + 21_000;
    o.markDelivered(d1!.id, d1!.url, 204, T0 + 20_500);
    r = o.delivery(d1!.id)!;
    assert.equal(r.status, DeliveryStatus.delivered);
    assert.equal(r.attempts, 3);
    assert.equal(r.firstAttemptAtMs, T0 + 500);

    o.markDelivered(d2!.id, d2!.url, 200, T0 + 100);
    assert.equal(o.delivery(d2!.id)?.firstAttemptAtMs, T0 + 100);
    o.markDead(d3!.id, 410, 'HTTP 410', T0 + 200);
    assert.equal(o.delivery(d3!.id)?.status, DeliveryStatus.dead);
    assert.equal(o.delivery(d3!.id)?.attempts, 1);
    assert.deepEqual(o.counts(), { pending: 0, delivered: 2, dead: 1 });
  });

  void it('deadLetters() lists dead deliveries with their last status and error; requeueDead() resets them', () => {
    const o = open();
    const ds = o.commit(batch([event('e1', ['https://a/', 'https://b/', 'https://c/'], { name: 'AgentBreak' })], 1));
    clock = T0 + 10;
    o.markRetry(ds[0]!.id, T0 + 100, 500, 'HTTP 500', T0 + 1);
    clock = T0 + 20;
    o.markDead(ds[0]!.id, 500, 'HTTP 500', T0 + 2);
    o.markDead(ds[1]!.id, null, 'timeout', T0 + 3);
    o.markDelivered(ds[2]!.id, ds[2]!.url, 200, T0 + 4);

    assert.deepEqual(o.deadLetters(10), [
      {
        id: ds[0]!.id,
        url: 'https://a/',
        eventId: 'e1',
        eventName: 'AgentBreak',
        attempts: 2,
        lastStatus: 500,
        lastError: 'HTTP 500',
        updatedAtMs: T0 + 20,
      },
      {
        id: ds[1]!.id,
        url: 'https://b/',
        eventId: 'e1',
        eventName: 'AgentBreak',
        attempts: 1,
        lastStatus: null,
        lastError: 'timeout',
        updatedAtMs: T0 + 20,
      },
    ]);
    assert.equal(o.deadLetters(1).length, 1);

    clock = T0 + 1_000;
    assert.equal(o.requeueDead([ds[1]!.id, ds[2]!.id, 12_345]), 1, 'only dead ones are requeued');
    const again = o.delivery(ds[1]!.id)!;
    assert.equal(again.status, DeliveryStatus.pending);
    assert.equal(again.attempts, 0);
    assert.equal(again.firstAttemptAtMs, null);
    assert.equal(again.nextAttemptAtMs, T0 + 1_000);
    assert.deepEqual(o.counts(), { pending: 1, delivered: 1, dead: 1 });

    assert.equal(o.requeueDead(), 1);
    assert.deepEqual(o.counts(), { pending: 2, delivered: 1, dead: 0 });
    assert.deepEqual(o.deadLetters(10), []);
    assert.equal(o.requeueDead(), 0);
  });

  void it('prune() removes delivered rows older than the cut-off and orphan events, keeping dead and pending', () => {
    const o = open();
    const [oldDone] = o.commit(batch([event('old', ['https://a/'])], 1));
    const [mixedDone, mixedPending] = o.commit(batch([event('mixed', ['https://a/', 'https://b/'])], 2));
    const [dead] = o.commit(batch([event('dead', ['https://a/'])], 3));
    const [pending] = o.commit(batch([event('pending', ['https://a/'])], 4));
    const [recent] = o.commit(batch([event('recent', ['https://a/'])], 5));

    clock = T0 + 1 * HOUR;
    o.markDelivered(oldDone!.id, oldDone!.url, 200, clock);
    o.markDelivered(mixedDone!.id, mixedDone!.url, 200, clock);
    o.markDead(dead!.id, 500, 'x', clock);
    clock = T0 + 30 * HOUR;
    o.markDelivered(recent!.id, recent!.url, 200, clock);

    assert.equal(o.prune(T0 + 1 * HOUR, 100), 0, 'the cut-off is exclusive');
    assert.equal(o.prune(T0 + 24 * HOUR, 100), 2);
    assert.equal(o.delivery(oldDone!.id), undefined);
    assert.equal(o.delivery(mixedDone!.id), undefined);
    assert.ok(o.delivery(mixedPending!.id), 'a pending delivery keeps its event');
    assert.equal(o.delivery(dead!.id)?.status, DeliveryStatus.dead);
    assert.equal(o.delivery(pending!.id)?.status, DeliveryStatus.pending);
    assert.equal(o.delivery(recent!.id)?.status, DeliveryStatus.delivered);
    assert.equal(rawCount('events'), 4, 'only the event "old" lost all its deliveries');
    assert.equal(rawCount('deliveries'), 4);
    assert.deepEqual(o.counts(), { pending: 2, delivered: 1, dead: 1 });
    assert.equal(o.deadLetters(10).length, 1);
    assert.equal(o.prune(T0 + 24 * HOUR, 100), 0);
  });

  void it('brings a version 1 store up to date, keeping its deliveries', () => {
    // Version 1's layout: a (status, id) index and a UNIQUE (event_id, url) constraint.
    const raw = new Database(join(dir, OUTBOX_FILE));
    raw.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE mirror_rows (tbl TEXT NOT NULL, pk TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (tbl, pk))
        WITHOUT ROWID;
      CREATE TABLE events (id TEXT PRIMARY KEY, name TEXT NOT NULL, order_key TEXT NOT NULL,
        occurred_at_ms INTEGER NOT NULL, body TEXT NOT NULL, source_file TEXT NOT NULL, source_pos INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL REFERENCES events(id),
        url TEXT NOT NULL, order_key TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at_ms INTEGER NOT NULL, first_attempt_at_ms INTEGER,
        created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, last_status INTEGER, last_error TEXT,
        UNIQUE (event_id, url));
      CREATE INDEX deliveries_by_status ON deliveries (status, id);
      INSERT INTO meta VALUES ('schema_version', '1'), ('checkpoint', '{"file":"binlog.000001","pos":900}');
      INSERT INTO events VALUES ('old', 'AgentLog', 'agent:jdoe', ${T0}, '{"event":"AgentLog"}', 'binlog.000001',
        800, ${T0});
      INSERT INTO deliveries (event_id, url, order_key, next_attempt_at_ms, created_at_ms, updated_at_ms)
        VALUES ('old', 'https://a.example/', 'agent:jdoe', ${T0}, ${T0}, ${T0});`);
    raw.close();
    const o = open();
    assert.equal(o.getMeta('schema_version'), '3');
    assert.deepEqual(o.checkpoint(), { file: 'binlog.000001', pos: 900 });
    assert.deepEqual(
      o.pendingPage('https://a.example/', 0, 10).map((d) => d.eventId),
      ['old'],
    );
    o.commit(batch([event('new', ['https://a.example/'])], 1_000));
    assert.deepEqual(o.backlog(), { pending: 2, dead: 0 });
    o.close();
    const check = new Database(join(dir, OUTBOX_FILE), { readonly: true });
    const indexes = check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'deliveries_%' ORDER BY name")
      .pluck()
      .all();
    check.close();
    assert.deepEqual(indexes, [
      'deliveries_by_event',
      'deliveries_cancelled',
      'deliveries_dead',
      'deliveries_dead_by_url',
      'deliveries_done',
      'deliveries_pending',
      'deliveries_staged',
    ]);
    const again = open();
    assert.equal(again.delivery(1)?.eventId, 'old', 'the delivery keeps its id');
    assert.equal(
      again.commit(batch([event('new', ['https://a.example/'])], 1_000)).length,
      0,
      'copied events are still deduplicated',
    );
  });

  void it('refuses a state directory written by another schema version', () => {
    const o = open();
    o.setMeta('schema_version', '99');
    o.close();
    assert.throws(
      () => open(),
      (err: unknown) =>
        err instanceof BridgeError && err.code === 'UCW_ERR_OUTBOX_OPEN' && /schema version 99/.test(err.message),
    );
  });

  void it('reports an unusable state directory as UCW_ERR_OUTBOX_OPEN', () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    assert.throws(
      () => new StateStore({ stateDir: notADir, synchronous: 'full' }),
      (err: unknown) => err instanceof BridgeError && err.code === 'UCW_ERR_OUTBOX_OPEN',
    );
  });

  void it('creates a missing state directory (synchronous full)', () => {
    const nested = join(dir, 'a', 'b');
    const o = new StateStore({ stateDir: nested, synchronous: 'full' });
    opened.push(o);
    assert.equal(o.commit(batch([event('e', ['https://a/'])], 9)).length, 1);
  });
});
