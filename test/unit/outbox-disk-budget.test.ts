// The disk budget over a real store (fake clock): retention yields to --max-outbox-bytes. Delivered
// and cancelled rows, however recent, are pruned before reading waits; only rows that still have
// work (pending of a failing or paused URL) can make it wait.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FlowWindow } from '../../src/delivery/flow-window.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { StateStore, type Delivery, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { Pruner } from '../../src/outbox/pruner.js';

const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const HOUR = 3_600_000;
const MAX_BYTES = 2 * 1024 * 1024;
const BACK = 'https://back.example/hook';
const STALLED = 'https://stalled.example/hook';
const RECLAIMED = 'state store at --max-outbox-bytes: delivered and cancelled rows pruned ahead of retention';

interface LogLine {
  msg: string;
  code?: string;
}

void describe('FlowWindow disk budget over a real store', () => {
  let dir = '';
  let outbox: StateStore | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ucw-disk-budget-'))));
  afterEach(() => {
    outbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const setup = () => {
    const o = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => Date.now() });
    outbox = o;
    let pos = 0;
    const commit = (url: string, n: number): Delivery[] => {
      const events: EnqueuedEvent[] = Array.from({ length: n }, () => {
        pos++;
        return {
          id: `ev-${pos}`,
          name: 'AgentLog',
          orderKey: `agent:${pos % 50}`,
          occurredAtMs: T0,
          body: `{"event":"AgentLog","n":${pos},"pad":"${'x'.repeat(2_000)}"}`,
          urls: [url],
          source: { file: 'binlog.000001', pos },
        };
      });
      return o.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos } });
    };
    const logs: LogLine[] = [];
    const logger = createLogger('info', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    const metrics = new Metrics();
    // Retention of a day: every row below is far younger.
    const pruner = new Pruner({
      outbox: o,
      retentionMs: 24 * HOUR,
      intervalMs: HOUR,
      now: () => Date.now(),
      logger,
      batchRows: 200,
    });
    const window = new FlowWindow({
      store: o,
      maxPending: 1_000_000,
      maxBytes: MAX_BYTES,
      usedBytes: () => o.usedBytes(),
      reclaim: (stillFull) => pruner.reclaim(stillFull),
      metrics,
      logger,
    });
    return { o, commit, logs, metrics, window, pruner };
  };
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const paused = async (m: Metrics): Promise<number | undefined> => (await m.sourcePaused.get()).values[0]?.value;

  void it(
    'a receiver came back and drained its backlog: the delivered ' +
      'rows (within retention) are pruned and reading goes on',
    async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
      const { o, commit, logs, window, pruner } = setup();
      const drained = commit(BACK, 2_000);
      t.mock.timers.tick(60_000);
      for (const d of drained) o.markDelivered(d.id, d.url, 200, Date.now());
      o.flushOutcomes();
      assert.ok(o.usedBytes() >= MAX_BYTES, `store ${o.usedBytes()} bytes: not over the budget`);

      let done = false;
      void Promise.resolve(window.roomFor(new Set())).then(() => (done = true));
      await flush();
      t.mock.timers.tick(100);
      await flush();
      assert.equal(done, true, 'reading stayed paused on delivered rows');
      // Never paused: no warning, no "resumed" line; only the pruning is told.
      assert.deepEqual(
        logs.map((l) => l.msg),
        [RECLAIMED],
      );
      assert.ok(o.usedBytes() < MAX_BYTES, `store ${o.usedBytes()} bytes after reclaiming`);
      const left = o.counts();
      assert.ok(left.pending === 0 && left.delivered > 0 && left.delivered < 2_000, `left ${JSON.stringify(left)}`);
      await pruner.stop();
    },
  );

  void it(
    'a backlog discarded with the bridge stopped: the ' + 'cancelled rows are pruned at start and reading goes on',
    async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
      const { o, commit, logs, window, pruner } = setup();
      commit(STALLED, 2_000);
      assert.equal(o.discardPending(STALLED), 2_000);
      assert.ok(o.usedBytes() >= MAX_BYTES, `store ${o.usedBytes()} bytes: not over the budget`);

      let done = false;
      void Promise.resolve(window.roomFor(new Set())).then(() => (done = true));
      await flush();
      t.mock.timers.tick(100);
      await flush();
      assert.equal(done, true, 'reading stayed paused on cancelled rows');
      assert.deepEqual(
        logs.map((l) => l.msg),
        [RECLAIMED],
      );
      // Oldest first, only until there is room: the rest stay for their retention.
      assert.ok(o.cancelledCount() > 0 && o.cancelledCount() < 2_000, `${o.cancelledCount()} cancelled rows left`);
      assert.ok(o.usedBytes() < MAX_BYTES, `store ${o.usedBytes()} bytes after reclaiming`);
      await pruner.stop();
    },
  );

  void it(
    'pending rows of a failing or paused URL over the budget still ' +
      'hold reading (the delivered ones are pruned, no pending one)',
    async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
      const { o, commit, logs, metrics, window, pruner } = setup();
      const drained = commit(BACK, 500);
      for (const d of drained) o.markDelivered(d.id, d.url, 200, Date.now());
      commit(STALLED, 1_500);
      o.flushOutcomes();

      let done = false;
      void Promise.resolve(window.roomFor(new Set())).then(() => (done = true));
      await flush();
      t.mock.timers.tick(1_000);
      await flush();
      assert.equal(done, false, 'reading went on over the budget');
      assert.equal(await paused(metrics), 1);
      assert.deepEqual(
        logs.filter((l) => l.code).map((l) => l.code),
        ['UCW_WARN_OUTBOX_DISK_FULL'],
      );
      assert.deepEqual(o.counts(), { pending: 1_500, delivered: 0, dead: 0 });
      assert.ok(o.usedBytes() >= MAX_BYTES);
      window.release();
      t.mock.timers.tick(100);
      await flush();
      assert.equal(done, true);
      await pruner.stop();
    },
  );
});
