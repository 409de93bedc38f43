// Schema v3 (an index of delivered rows by time, incremental auto-vacuum, a WAL size limit) and the
// Pruner's batches: a v2 store is migrated with its rows kept, and pruning deletes in bounded
// transactions, then returns the freed pages so the file shrinks.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DeliveryStatus, StateStore, OUTBOX_FILE, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { Pruner } from '../../src/outbox/pruner.js';

const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const HOUR = 3_600_000;

const event = (id: string, pos: number): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey: `agent:${id}`,
  occurredAtMs: T0,
  body: `{"event":"AgentLog","agent":"${id}","pad":"${'x'.repeat(2_000)}"}`,
  urls: ['https://a.example/'],
  source: { file: 'binlog.000001', pos },
});

const silent = { info: () => undefined, warn: () => undefined };

void describe('StateStore v3 and Pruner', () => {
  let dir = '';
  let clock = T0;
  const opened: StateStore[] = [];
  const open = (logger = silent, incrementalVacuum = true): StateStore => {
    const o = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock, logger, incrementalVacuum });
    opened.push(o);
    return o;
  };
  const raw = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(join(dir, OUTBOX_FILE));
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-prune-'));
    clock = T0;
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('a new store is incremental-vacuum from the start, with the delivered index', () => {
    const o = open();
    o.close();
    raw((db) => {
      assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
      assert.equal(
        db.prepare("SELECT sql FROM sqlite_master WHERE name = 'deliveries_done'").pluck().get(),
        'CREATE INDEX deliveries_done ON deliveries (updated_at_ms) WHERE status IN (1, 4)',
      );
      // The plan of a prune batch seeks that index instead of scanning the table.
      const plan = db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE status IN ' +
            '(1, 4) AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?',
        )
        .all(0, 1) as Array<{ detail: string }>;
      assert.match(plan.map((p) => p.detail).join('; '), /USING (COVERING )?INDEX deliveries_done/);
    });
    assert.equal(open().getMeta('schema_version'), '3');
  });

  void it(
    'migrates a v2 store: rows kept, delivered index ' + 'added, rewritten once for incremental vacuum (logged)',
    () => {
      const o = open();
      const [d1] = o.commit({ events: [event('a', 1)], mirror: [], checkpoint: { file: 'binlog.000001', pos: 1 } });
      o.commit({
        events: [event('b', 2)],
        mirror: [{ table: 'ccdata.users', pk: 'u', row: { username: 'u' } }],
        checkpoint: { file: 'binlog.000001', pos: 2 },
      });
      o.markDelivered(d1!.id, d1!.url, 200, clock);
      o.close();
      opened.length = 0;
      // Back to what v2 wrote: no delivered index, auto_vacuum NONE, version 2.
      raw((db) => {
        db.exec("DROP INDEX deliveries_done; UPDATE meta SET value = '2' WHERE key = 'schema_version'");
        db.pragma('auto_vacuum = NONE');
        db.exec('VACUUM');
        assert.equal(db.pragma('auto_vacuum', { simple: true }), 0);
      });

      const infos: string[] = [];
      // An offline command's open migrates but leaves the one-time VACUUM to `run`.
      open({ info: (_o: unknown, msg: string) => void infos.push(msg), warn: silent.warn } as never, false).close();
      opened.length = 0;
      assert.equal(infos.length, 0, infos.join('; '));
      raw((db) => assert.equal(db.pragma('auto_vacuum', { simple: true }), 0));
      const m = open({ info: (_o: unknown, msg: string) => void infos.push(msg), warn: silent.warn } as never);
      assert.equal(m.getMeta('schema_version'), '3');
      assert.deepEqual(m.checkpoint(), { file: 'binlog.000001', pos: 2 });
      assert.deepEqual(m.counts(), { pending: 1, delivered: 1, dead: 0 });
      assert.deepEqual(m.mirrorRows('ccdata.users'), [{ username: 'u' }]);
      assert.deepEqual(infos, ['state store rewritten once for incremental vacuum']);
      m.close();
      raw((db) => {
        assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
        assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'deliveries_done'").pluck().get(), 1);
      });
      infos.length = 0;
      open({ info: (_o: unknown, msg: string) => void infos.push(msg), warn: silent.warn } as never);
      assert.deepEqual(infos, [], 'rewritten once only');
    },
  );

  void it('a read-only open reads a v2 store beside it as it is', () => {
    open().commit({ events: [event('a', 1)], mirror: [], checkpoint: { file: 'binlog.000001', pos: 1 } });
    opened.splice(0).forEach((o) => o.close());
    raw((db) => db.exec("DROP INDEX deliveries_done; UPDATE meta SET value = '2' WHERE key = 'schema_version'"));
    const ro = new StateStore({ stateDir: dir, synchronous: 'normal', readonly: true });
    opened.push(ro);
    assert.deepEqual(ro.counts(), { pending: 1, delivered: 0, dead: 0 });
    assert.equal(
      raw((db) => db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()),
      '2',
    );
  });

  void it('prunes in batches of batchRows past retention only, then vacuums until no free page is left', async () => {
    const o = open();
    const created = Array.from(
      { length: 25 },
      (_, i) =>
        o.commit({
          events: [event(`e${i}`, i + 1)],
          mirror: [],
          checkpoint: { file: 'binlog.000001', pos: i + 1 },
        })[0]!,
    );
    for (const d of created.slice(0, 20)) o.markDelivered(d.id, d.url, 200, clock);
    clock = T0 + 30 * HOUR;
    o.markDelivered(created[20]!.id, created[20]!.url, 200, clock);
    o.flushOutcomes();
    o.vacuumStep(1_000);
    const sizeBefore = statSync(join(dir, OUTBOX_FILE)).size + statSync(join(dir, `${OUTBOX_FILE}-wal`)).size;

    const batches: number[] = [];
    const counting = {
      prune: (cutoff: number, limit: number) => {
        const n = o.prune(cutoff, limit);
        batches.push(n);
        return n;
      },
      vacuumStep: (pages: number) => o.vacuumStep(pages),
    };
    const pruner = new Pruner({
      outbox: counting,
      retentionMs: 24 * HOUR,
      intervalMs: HOUR,
      now: () => clock,
      logger: silent,
      batchRows: 6,
      vacuumPages: 4,
    });
    const result = await pruner.runOnce();
    assert.deepEqual(batches, [6, 6, 6, 2]);
    assert.deepEqual({ ...result, longestBatchMs: 0 }, { pruned: 20, deadPruned: 0, longestBatchMs: 0, freePages: 0 });
    assert.ok(result.longestBatchMs >= 0 && result.longestBatchMs < 1_000, `longest batch ${result.longestBatchMs} ms`);
    assert.deepEqual(o.counts(), { pending: 4, delivered: 1, dead: 0 });
    assert.equal(o.delivery(created[20]!.id)?.status, DeliveryStatus.delivered, 'within retention: kept');
    o.close();
    opened.length = 0;
    // Closing checkpoints the WAL into the file, which is smaller by the ~20 pruned 2 KB bodies.
    const sizeAfter = statSync(join(dir, OUTBOX_FILE)).size;
    assert.ok(sizeAfter < sizeBefore - 20 * 2_000, `file ${sizeAfter} bytes, was ${sizeBefore} with its WAL`);
    await pruner.stop();
  });

  void it('a failed pass logs UCW_WARN_OUTBOX_PRUNE and the next pass runs again (operations.md)', async () => {
    const warnings: Array<Record<string, unknown>> = [];
    let failNext = true;
    let prunes = 0;
    const pruner = new Pruner({
      outbox: {
        prune: () => {
          prunes++;
          if (failNext) {
            failNext = false;
            throw new Error('disk I/O error');
          }
          return 0;
        },
        vacuumStep: () => 0,
      },
      retentionMs: HOUR,
      intervalMs: HOUR,
      now: () => 10 * HOUR,
      logger: { info: () => undefined, warn: (fields: Record<string, unknown>) => void warnings.push(fields) },
    });
    const failed = await pruner.runOnce();
    assert.deepEqual([failed.pruned, failed.deadPruned, failed.freePages], [0, 0, -1]);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.code, 'UCW_WARN_OUTBOX_PRUNE');
    const next = await pruner.runOnce();
    assert.deepEqual([next.pruned, next.deadPruned, next.freePages], [0, 0, 0]);
    assert.equal(prunes, 2, 'tried again');
    assert.equal(warnings.length, 1);
    await pruner.stop();
  });

  void it('start() runs a first pass after firstPassMs, then one per interval', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    let passes = 0;
    const pruner = new Pruner({
      outbox: {
        prune: () => {
          passes++;
          return 0;
        },
        vacuumStep: () => 0,
      },
      retentionMs: HOUR,
      intervalMs: HOUR,
      firstPassMs: 5_000,
      now: () => 0,
      logger: silent,
    });
    pruner.start();
    t.mock.timers.tick(4_999);
    assert.equal(passes, 0);
    t.mock.timers.tick(1);
    assert.equal(passes, 1, 'the first pass, long before the first interval');
    await pruner.runOnce(); // the first pass, still running: no second one
    t.mock.timers.tick(HOUR);
    assert.equal(passes, 2);
    await pruner.stop();
  });
});
