// Retention on a large store while the bridge streams: 200,000 delivered rows past the 7-day retention
// and 150,000 dead letters over a --max-dead-rows of 100,000 are pruned in batches while commits go on
// in the same thread. Each batch (one delete transaction, a count, a vacuum step) is measured in CPU
// time of this process, which a loaded machine does not inflate, and held under 50 ms (one outlier
// allowed, under 100 ms); the wall-clock longest batch and event-loop delay are reported beside the
// load average (on a machine shared by many processes they measure the scheduler as much as the code).

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { Pruner } from '../../src/outbox/pruner.js';
import { OUTBOX_FILE, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const DELIVERED = 200_000;
const DEAD = 150_000;
const MAX_DEAD_ROWS = 100_000;
const MAX_DELAY_MS = 50;
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);
const HOUR = 3_600_000;
const URL = 'https://a.example/';
const BODY = '{"event":"AgentLog","date":"2026-03-02 00:00:00","agent":"agent17","isLogin":true}';

/** DELIVERED delivered rows then DEAD dead ones, all from T0, each with its event, written by SQL. */
function seed(path: string): void {
  const db = new Database(path);
  db.transaction(() => {
    db.prepare(
      `INSERT INTO events (seq, id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       SELECT i, printf('old-%08d', i), 'AgentLog', 'agent:' || (i % 500), ?, ?, 'binlog.000001', i, ? FROM n`,
    ).run(DELIVERED + DEAD, T0, BODY, T0);
    db.prepare(
      `INSERT INTO deliveries (event_seq, url, status, attempts, next_attempt_at_ms, first_attempt_at_ms,
        created_at_ms, updated_at_ms, last_status, last_error)
       SELECT seq, ?, CASE WHEN seq <= ? THEN 1 ELSE 2 END, 1, ?, ?, ?, ?, 200,
         CASE WHEN seq <= ? THEN NULL ELSE 'UCW_ERR_DELIVERY_HTTP_STATUS: 400' END FROM events ORDER BY seq`,
    ).run(URL, DELIVERED, T0, T0, T0, T0, DELIVERED);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

void describe('retention under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ucw-retention-load-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test(
    `pruning ${DELIVERED.toLocaleString('en')} delivered rows and ${(DEAD - MAX_DEAD_ROWS).toLocaleString('en')} ` +
      `dead ones over the cap while commits go on: at most one batch takes ${MAX_DELAY_MS} ms of CPU`,
    async (t) => {
      const now = T0 + 169 * HOUR;
      const outbox = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => now });
      t.after(() => outbox.close());
      seed(join(dir, OUTBOX_FILE));
      assert.deepEqual(outbox.counts(), { pending: 0, delivered: DELIVERED, dead: DEAD });

      let streaming = true;
      let committed = 0;
      let maxGapMs = 0;
      const stream = (async () => {
        let last = performance.now();
        for (let tx = 0; streaming; tx++) {
          const events: EnqueuedEvent[] = Array.from({ length: 10 }, (_, i) => ({
            id: `live-${tx}-${i}`,
            name: 'AgentLog',
            orderKey: `agent:${i}`,
            occurredAtMs: now,
            body: BODY,
            urls: [URL],
            source: { file: 'binlog.000002', pos: tx * 10 + i + 4 },
          }));
          committed += outbox.commit({
            events,
            mirror: [],
            checkpoint: { file: 'binlog.000002', pos: tx * 10 + 14 },
          }).length;
          await turn();
          const at = performance.now();
          maxGapMs = Math.max(maxGapMs, at - last);
          last = at;
        }
      })();

      /** Longest CPU time (ms) of one call into the store, by what it did. */
      const cpu = { prune: 0, vacuum: 0, count: 0, pruneDead: 0 };
      /** Every call's CPU time (ms), to count those over the bound. */
      const calls: number[] = [];
      const timed = <T>(k: keyof typeof cpu, fn: () => T): T => {
        const at = process.cpuUsage();
        try {
          return fn();
        } finally {
          const used = process.cpuUsage(at);
          const ms = (used.user + used.system) / 1_000;
          calls.push(ms);
          cpu[k] = Math.max(cpu[k], ms);
        }
      };
      const counted = { dead: 0, cancelled: 0 };
      const pruner = new Pruner({
        outbox: {
          prune: (cutoff, limit) => timed('prune', () => outbox.prune(cutoff, limit)),
          vacuumStep: (pages) => timed('vacuum', () => outbox.vacuumStep(pages)),
        },
        retentionMs: 168 * HOUR,
        intervalMs: HOUR,
        now: () => now,
        deadCap: {
          max: MAX_DEAD_ROWS,
          store: {
            deadAndCancelled: () => timed('count', () => outbox.deliveries.deadAndCancelled()),
            pruneOldestDead: (n) => timed('pruneDead', () => outbox.deliveries.pruneOldestDead(n)),
          },
          onPruned: (n) => {
            counted.dead += n.dead;
            counted.cancelled += n.cancelled;
          },
        },
        logger: { info: () => undefined, warn: () => undefined },
      });
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const started = performance.now();
      const result = await pruner.runOnce();
      const pruneMs = Math.round(performance.now() - started);
      delay.disable();
      streaming = false;
      await stream;
      await pruner.stop();

      const maxMs = delay.max / 1e6;
      const cpuMax = Math.max(...Object.values(cpu));
      const cpuText = Object.entries(cpu)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ');
      const figures =
        `retention-load: pruned ${result.pruned} delivered and ${result.deadPruned} dead rows in ${pruneMs} ms ` +
        `(vacuum included) while ${committed} deliveries were committed; longest batch ${result.longestBatchMs} ms; ` +
        `longest gap between commits ${maxGapMs.toFixed(1)} ms; event-loop delay max ${maxMs.toFixed(1)} ms, ` +
        `p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; longest batch in CPU time (ms): ${cpuText}; ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
      t.diagnostic(figures);
      console.log(figures);

      assert.equal(result.pruned, DELIVERED);
      assert.equal(result.deadPruned, DEAD - MAX_DEAD_ROWS);
      assert.deepEqual(counted, { dead: DEAD - MAX_DEAD_ROWS, cancelled: 0 });
      assert.deepEqual(outbox.counts(), { pending: committed, delivered: 0, dead: MAX_DEAD_ROWS });
      // One call in a run may go over: a vacuum step took 52.6 ms once on a quiet machine where they take
      // 10-17 ms (a WAL checkpoint or the process's other threads land in it). Batches grown too large
      // put many over, and none may take twice the bound.
      const over = calls.filter((ms) => ms >= MAX_DELAY_MS).length;
      assert.ok(over <= 1, `${over} of ${calls.length} batches held the thread ${MAX_DELAY_MS} ms of CPU or more`);
      assert.ok(cpuMax < 2 * MAX_DELAY_MS, `a batch held the thread for ${cpuMax.toFixed(1)} ms of CPU (${cpuText})`);
      assert.ok(committed > 0, 'commits went on during the prune');
    },
  );
});
