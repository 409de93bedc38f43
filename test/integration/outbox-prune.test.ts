// Pruning a large store while the bridge streams: 1,000,000 delivered rows past retention are
// deleted and their pages returned to the file system while commits go on in the same thread: no
// gap between two commits takes more than a twentieth of the pass (a pass that held the thread for
// a good part of its time would show one). A share of the pass, not a number of milliseconds: the
// machine is shared, and the figures (event-loop delay with perf_hooks) are printed, not asserted.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { StateStore, OUTBOX_FILE, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { Pruner } from '../../src/outbox/pruner.js';

const ROWS = 1_000_000;
/** The longest gap between commits may be at most this share of the pass. */
const MAX_GAP_SHARE = 1 / 20;
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);
const HOUR = 3_600_000;
const URL = 'https://a.example/';
const BODY = '{"event":"AgentLog","date":"2026-03-02 00:00:00","agent":"agent17","isLogin":true}';

/** 1,000,000 events delivered 48 h before "now", each with one delivery, written by SQL in one go. */
function seed(path: string): void {
  const db = new Database(path);
  db.transaction(() => {
    db.prepare(
      `INSERT INTO events (seq, id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       SELECT i, printf('old-%08d', i), 'AgentLog', 'agent:' || (i % 500), ?, ?, 'binlog.000001', i, ? FROM n`,
    ).run(ROWS, T0, BODY, T0);
    db.prepare(
      `INSERT INTO deliveries (event_seq, url, status, attempts, next_attempt_at_ms, first_attempt_at_ms,
        created_at_ms, updated_at_ms, last_status)
       SELECT seq, ?, 1, 1, ?, ?, ?, ?, 200 FROM events ORDER BY seq`,
    ).run(URL, T0, T0, T0, T0);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

const bytesOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

void describe('outbox: pruning while streaming', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ucw-prune-load-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test(
    `pruning ${ROWS.toLocaleString('en')} delivered rows while ` +
      `commits go on: no gap between commits longer than a twentieth of the pass`,
    async (t) => {
      const now = T0 + 48 * HOUR;
      const outbox = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => now });
      t.after(() => outbox.close());
      const file = join(dir, OUTBOX_FILE);
      const seeded = performance.now();
      seed(file);
      const seedMs = Math.round(performance.now() - seeded);
      assert.deepEqual(outbox.counts(), { pending: 0, delivered: ROWS, dead: 0 });
      const sizeBefore = bytesOf(file);

      // "Streaming": a source transaction of 10 events committed on every turn of the event loop. The
      // longest gap between two of its turns is a second measure of the delay (it also sees one long
      // block, which the histogram records only at its next tick).
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

      const pruner = new Pruner({
        outbox,
        retentionMs: 24 * HOUR,
        intervalMs: HOUR,
        now: () => now,
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
      const sizeAfter = bytesOf(file);
      const figures =
        `outbox-prune: seeded ${ROWS} delivered rows in ${seedMs} ms; ` +
        `pruned ${result.pruned} in ${pruneMs} ms (vacuum included) ` +
        `while ${committed} deliveries were committed; longest gap between commits ${maxGapMs.toFixed(1)} ` +
        `ms; event-loop delay max ${maxMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ` +
        `mean ${(delay.mean / 1e6).toFixed(1)} ms; file ${(sizeBefore / 1e6).toFixed(0)} MB ` +
        `-> ${(sizeAfter / 1e6).toFixed(0)} MB (WAL ${(bytesOf(`${file}-wal`) / 1e6).toFixed(0)} MB)`;
      t.diagnostic(figures);
      console.log(figures);

      assert.ok(
        maxGapMs < pruneMs * MAX_GAP_SHARE,
        `commits held up for ${maxGapMs.toFixed(1)} ms of a ${pruneMs} ms pass (more than ${MAX_GAP_SHARE})`,
      );
      assert.equal(result.pruned, ROWS);
      assert.equal(result.freePages, 0, 'every freed page returned to the file system');
      assert.ok(committed > 0, 'commits went on during the prune');
      assert.deepEqual(outbox.counts(), { pending: committed, delivered: 0, dead: 0 });
      assert.ok(sizeAfter < sizeBefore / 4, `file ${sizeAfter} bytes after pruning, ${sizeBefore} before`);
    },
  );
});
