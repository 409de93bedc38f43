// The outbox growth limits with a fake clock: reading waits only on deliveries that can drain, and
// on the store's size (read at most once per BYTES_CHECK_MS while there is room).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { BYTES_CHECK_MS, OutboxBudget } from '../../src/pipeline/outbox-budget.js';

interface LogLine {
  level: string;
  msg: string;
  code?: string;
}

void describe('OutboxBudget', () => {
  const setup = (maxPending: number, maxBytes: number) => {
    const state = { drainable: 0, bytes: 0, bytesReads: 0 };
    const logs: LogLine[] = [];
    const metrics = new Metrics();
    const budget = new OutboxBudget({
      maxPending,
      maxBytes,
      drainable: () => state.drainable,
      usedBytes: () => {
        state.bytesReads++;
        return state.bytes;
      },
      // Nothing delivered or cancelled to prune: the store's size is what holds reading here.
      reclaim: () => Promise.resolve(0),
      metrics,
      logger: createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) }),
    });
    return { state, logs, metrics, budget };
  };
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  const gauge = async (g: Metrics['sourcePaused']): Promise<number | undefined> => (await g.get()).values[0]?.value;

  void it('waits while the deliveries that can drain reach the limit, and goes on below it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { state, logs, metrics, budget } = setup(10, 1_000_000);
    state.drainable = 9;
    await budget.waitForRoom();
    state.drainable = 10;
    let done = false;
    void budget.waitForRoom().then(() => (done = true));
    await flush();
    assert.equal(done, false);
    assert.equal(await gauge(metrics.sourcePaused), 1);
    assert.deepEqual(logs.filter((l) => l.code).map((l) => l.code), ['UCW_WARN_OUTBOX_FULL']);
    t.mock.timers.tick(1_000);
    await flush();
    assert.equal(done, false, 'went on at the limit');
    state.drainable = 9;
    t.mock.timers.tick(100);
    await flush();
    assert.equal(done, true);
    assert.equal(await gauge(metrics.sourcePaused), 0);
  });

  void it('waits while the store is at --max-outbox-bytes (coded UCW_WARN_OUTBOX_DISK_FULL), reading its size once per BYTES_CHECK_MS', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { state, logs, metrics, budget } = setup(10, 5_000);
    state.bytes = 4_000;
    for (let i = 0; i < 50; i++) await budget.waitForRoom();
    assert.equal(state.bytesReads, 1, 'the size is read once per BYTES_CHECK_MS, not per transaction');
    assert.equal(await gauge(metrics.outboxBytes), 4_000);
    state.bytes = 6_000;
    await budget.waitForRoom();
    assert.equal(state.bytesReads, 1);
    t.mock.timers.tick(BYTES_CHECK_MS);
    let done = false;
    void budget.waitForRoom().then(() => (done = true));
    await flush();
    assert.equal(done, false);
    assert.equal(await gauge(metrics.outboxBytes), 6_000);
    assert.deepEqual(logs.filter((l) => l.code).map((l) => l.code), ['UCW_WARN_OUTBOX_DISK_FULL']);
    state.bytes = 4_500;
    t.mock.timers.tick(100);
    await flush();
    assert.equal(done, true);
  });

  void it('stop() lets a waiting source go', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { state, budget } = setup(1, 1_000_000);
    state.drainable = 5;
    let done = false;
    void budget.waitForRoom().then(() => (done = true));
    await flush();
    budget.stop();
    t.mock.timers.tick(100);
    await flush();
    assert.equal(done, true);
  });
});
