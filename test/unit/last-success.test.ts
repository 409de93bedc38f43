// A URL's last success (status, the status page): kept as one row per URL by the outcome writer, so it
// outlives the delivered rows' retention, filled from the delivered rows of a store an earlier release
// wrote, and read from those rows by a read-only open of a store no bridge of this version has opened.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OUTBOX_FILE, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const A = 'http://127.0.0.1:9/a';
const B = 'http://127.0.0.1:9/b';

function event(id: string, urls: string[], pos: number): EnqueuedEvent {
  return {
    id,
    name: 'AgentLog',
    orderKey: `agent:${id}`,
    occurredAtMs: T0,
    body: '{}',
    urls,
    source: { file: 'binlog.000001', pos },
  };
}

void describe('last success per URL', () => {
  let dir = '';
  let clock = T0;
  const open = (readonly = false): StateStore =>
    new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock, readonly });
  const raw = (fn: (db: Database.Database) => void): void => {
    const db = new Database(join(dir, OUTBOX_FILE));
    try {
      fn(db);
    } finally {
      db.close();
    }
  };
  const lastSuccess = (store: StateStore): Record<string, number | undefined> =>
    Object.fromEntries(store.status(10, [A, B]).urls.map((u) => [u.url, u.lastSuccessAtMs]));
  const indexes = (): string[] => {
    let names: string[] = [];
    raw((db) => {
      names = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'deliveries_%'")
        .pluck()
        .all() as string[];
    });
    return names;
  };

  /** A store with deliveries to A delivered at T0+1s and T0+2s, to B at T0+3s, and one to A pending (e3). */
  function storeWithDeliveries(): StateStore {
    const store = open();
    const [a1, b1] = store.commit({
      events: [event('e1', [A, B], 10)],
      mirror: [],
      checkpoint: { file: 'b', pos: 10 },
    });
    const [a2] = store.commit({ events: [event('e2', [A], 20)], mirror: [], checkpoint: { file: 'b', pos: 20 } });
    store.commit({ events: [event('e3', [A], 30)], mirror: [], checkpoint: { file: 'b', pos: 30 } });
    clock = T0 + 1_000;
    store.markDelivered(a1!.id, A, 200, clock);
    clock = T0 + 2_000;
    store.markDelivered(a2!.id, A, 204, clock);
    clock = T0 + 3_000;
    store.markDelivered(b1!.id, B, 200, clock);
    store.flushOutcomes();
    return store;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-last-success-'));
    clock = T0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  void it('is the time of the newest delivered outcome of each URL, one batch or several', () => {
    const store = storeWithDeliveries();
    assert.deepEqual(lastSuccess(store), { [A]: T0 + 2_000, [B]: T0 + 3_000 });
    // A later batch replaces it, even when the clock went back since: the latest 2xx, not the largest time.
    const [a3] = store.commit({ events: [event('e4', [A], 40)], mirror: [], checkpoint: { file: 'b', pos: 40 } });
    clock = T0 + 1_500;
    store.markDelivered(a3!.id, A, 200, clock);
    store.flushOutcomes();
    assert.deepEqual(lastSuccess(store), { [A]: T0 + 1_500, [B]: T0 + 3_000 });
    store.close();
  });

  /** What a release that does not keep last_success does on delivering e3 (to A) at `atMs`. */
  const olderReleaseDelivers = (atMs: number): void =>
    raw((db) => {
      const n = db
        .prepare(
          'UPDATE deliveries SET status = 1, attempts = attempts + 1, updated_at_ms = ? ' +
            "WHERE status = 0 AND event_seq = (SELECT seq FROM events WHERE id = 'e3')",
        )
        .run(atMs).changes;
      assert.equal(n, 1);
    });

  void it('is brought up to date on open after a release without the index delivered (issue 13 and before)', () => {
    storeWithDeliveries().close();
    olderReleaseDelivers(T0 + 100_000);
    const store = open();
    assert.deepEqual(lastSuccess(store), { [A]: T0 + 100_000, [B]: T0 + 3_000 });
    store.close();
  });

  void it('reads what a release without last_success delivered since, on a read-only open', () => {
    storeWithDeliveries().close();
    olderReleaseDelivers(T0 + 100_000);
    raw((db) => db.exec('CREATE INDEX deliveries_delivered ON deliveries (url, id) WHERE status = 1'));
    const reader = open(true);
    assert.deepEqual(lastSuccess(reader), { [A]: T0 + 100_000, [B]: T0 + 3_000 });
    reader.close();
  });

  void it('outlives the delivered rows once retention prunes them', () => {
    const store = storeWithDeliveries();
    clock = T0 + 10 * 86_400_000;
    assert.equal(store.prune(T0 + 5_000, 100), 3, 'every delivered row is past retention');
    assert.deepEqual(store.deliveries.list({ states: ['delivered'] }, 10).deliveries, [], 'no delivered row is left');
    assert.deepEqual(lastSuccess(store), { [A]: T0 + 2_000, [B]: T0 + 3_000 });
    store.close();
  });

  void it('is filled from the delivered rows of a store an earlier release wrote, and its index dropped', () => {
    storeWithDeliveries().close();
    // What the release before wrote: deliveries_delivered, no last_success; and one kept but stale
    // (that release wrote the store after this one): both are brought up to the rows.
    raw((db) => {
      db.exec('CREATE INDEX deliveries_delivered ON deliveries (url, id) WHERE status = 1');
      db.prepare('UPDATE last_success SET at_ms = ? WHERE url = ?').run(T0, B);
      db.prepare('DELETE FROM last_success WHERE url = ?').run(A);
    });
    const store = open();
    assert.deepEqual(lastSuccess(store), { [A]: T0 + 2_000, [B]: T0 + 3_000 });
    store.close();
    assert.ok(!indexes().includes('deliveries_delivered'), 'nothing reads deliveries_delivered now');

    // A store from before last_success existed: the table is made and filled on open.
    raw((db) => db.exec('DROP TABLE last_success'));
    const again = open();
    assert.deepEqual(lastSuccess(again), { [A]: T0 + 2_000, [B]: T0 + 3_000 });
    again.close();
  });

  void it('is read from the delivered rows by a read-only open of a store without last_success', () => {
    storeWithDeliveries().close();
    raw((db) => db.exec('DROP TABLE last_success'));
    const reader = open(true);
    assert.deepEqual(lastSuccess(reader), { [A]: T0 + 2_000, [B]: T0 + 3_000 });
    reader.close();
    raw((db) => {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE name = 'last_success'").all();
      assert.deepEqual(tables, [], 'a read-only open changes nothing');
    });
  });
});
