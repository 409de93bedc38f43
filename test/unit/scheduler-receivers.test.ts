// The scheduler with per-URL settings from receivers entries, on fake time against a real state
// store: a rate-limited URL sends at its rate (per-key order kept) while another URL goes at full
// speed, the wait is counted (rateLimitedWaitMs and the metric, labelled without the query string);
// per-URL concurrency and retry budget.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FlowWindow } from '../../src/delivery/flow-window.js';
import { DeliveryScheduler, type EndpointSettings } from '../../src/delivery/scheduler.js';
import type { OutcomeCallback, Sender } from '../../src/delivery/sender.js';
import type { AttemptOutcome, DeliveryAttempt } from '../../src/delivery/types.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { FakeClock } from '../helpers/fake-clock.js';

const LIMITED = 'http://limited.test/hook?token=s3cr3t-query-token';
const FREE = 'http://free.test/hook';

interface Call {
  readonly url: string;
  readonly eventId: string;
  readonly atMs: number;
}

/** Answers every attempt from `answer` at once (no time passes), in order within a chain. */
class RecordingSender implements Sender {
  readonly calls: Call[] = [];
  running = new Map<string, number>();
  maxRunning = new Map<string, number>();
  constructor(
    private readonly clock: FakeClock,
    private readonly answer: (a: DeliveryAttempt) => AttemptOutcome | Promise<AttemptOutcome>,
  ) {}
  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void {
    void (async () => {
      let broken = false;
      for (let i = 0; i < attempts.length; i++) {
        const a = attempts[i]!;
        if (broken) {
          onOutcome(i, { kind: 'unsent' });
          continue;
        }
        // A rate-limited attempt starts at its not-before time (the worker waits for it).
        this.calls.push({ url: a.url, eventId: a.eventId, atMs: a.notBeforeMs ?? this.clock.now() });
        const n = (this.running.get(a.url) ?? 0) + 1;
        this.running.set(a.url, n);
        this.maxRunning.set(a.url, Math.max(n, this.maxRunning.get(a.url) ?? 0));
        const outcome = await this.answer(a);
        this.running.set(a.url, n - 1);
        broken = outcome.kind !== 'delivered';
        onOutcome(i, outcome);
      }
    })();
  }
  cancelQueued(): void {}
  to(url: string): Call[] {
    return this.calls.filter((c) => c.url === url);
  }
}

const delivered: AttemptOutcome = { kind: 'delivered', status: 200, durationMs: 1 };

let seq = 0;
const ev = (id: string, orderKey: string, urls: string[]): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey,
  occurredAtMs: Date.UTC(2026, 2, 2, 14, 0, 0),
  body: `{"event":"AgentLog","id":"${id}"}`,
  urls,
  source: { file: 'binlog.000001', pos: 4 + ++seq },
});

void describe('DeliveryScheduler with per-URL settings', () => {
  let dir = '';
  let outbox: StateStore;
  let clock: FakeClock;
  let metrics: Metrics;
  let scheduler: DeliveryScheduler | undefined;

  beforeEach(() => {
    clock = new FakeClock();
    dir = mkdtempSync(join(tmpdir(), 'ucw-sched-rx-'));
    outbox = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock.now() });
    metrics = new Metrics();
  });
  afterEach(async () => {
    if (scheduler) {
      const stopped = scheduler.stop(0);
      await clock.advance(1);
      await stopped;
    }
    scheduler = undefined;
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (sender: Sender, settings: Record<string, EndpointSettings>, concurrencyPerUrl = 4) => {
    const logger = createLogger('silent');
    const window = new FlowWindow({
      store: outbox,
      maxPending: Infinity,
      maxBytes: Infinity,
      usedBytes: () => 0,
      reclaim: () => Promise.resolve(0),
      metrics,
      logger,
      clock,
    });
    scheduler = new DeliveryScheduler({
      outbox,
      sender,
      window,
      policy: { maxAttempts: 3, maxAgeMs: 600_000, baseDelayMs: 100, maxDelayMs: 100, maxRetryAfterMs: 1_000 },
      concurrencyPerUrl,
      queuedPerUrl: concurrencyPerUrl * 4,
      bodyFormatFor: () => 'ucontact',
      endpointSettingsFor: (url) => settings[url] ?? {},
      metrics,
      logger,
      gonePauseMs: 1_000,
      clock,
    });
    scheduler.start();
    return scheduler;
  };
  const enqueue = (d: DeliveryScheduler, ...events: EnqueuedEvent[]): void =>
    d.enqueue(outbox.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos: 4 + seq } }));

  void it('a rate-limited URL sends at its rate in per-key order while another URL goes at once', async () => {
    const sender = new RecordingSender(clock, () => delivered);
    const d = make(sender, { [LIMITED]: { rateLimitPerSecond: 10 } });
    const t0 = clock.now();
    for (let i = 0; i < 30; i++) enqueue(d, ev(`e${i}`, `agent:${i % 3}`, [LIMITED, FREE]));
    await clock.until(() => sender.to(FREE).length === 30, 'the free URL was held back', 1);
    // Handed over at once: those due within the pacer's 1 s horizon (at +0, +100, ..., +1000 ms).
    assert.equal(sender.to(LIMITED).length, 11);

    await clock.until(() => sender.to(LIMITED).length === 30, 'the limited URL did not finish', 10_000);
    const times = sender.to(LIMITED).map((c) => c.atMs - t0);
    // 10/s: the n-th request (0-based) starts at exactly n * 100 ms.
    times.forEach((t, n) => assert.equal(t, n * 100, `request ${n}`));
    // Per-key order: each agent's events arrive in commit order.
    for (let k = 0; k < 3; k++) {
      const ids = sender
        .to(LIMITED)
        .map((c) => Number(c.eventId.slice(1)))
        .filter((i) => i % 3 === k);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );
    }
    // The wait is counted as wall time during which some request was held back: +0 to +2900 ms.
    await clock.advance(t0 + 3_000 - clock.now());
    const waited = d.rateLimitedWaitMs(LIMITED);
    assert.equal(Math.round(waited), 2_900);
    assert.equal(d.rateLimitedWaitMs(FREE), 0);
    const text = await metrics.render();
    const line = text.split('\n').find((l) => l.startsWith('ucw_rate_limit_wait_seconds_total{'));
    const [label, value] = line?.split(' ') ?? [];
    assert.equal(label, 'ucw_rate_limit_wait_seconds_total{url="http://limited.test/hook?[redacted]"}');
    assert.ok(Math.abs(Number(value) - waited / 1000) < 1e-6, `metric ${value}`);
    assert.ok(!text.includes('s3cr3t-query-token'));
  });

  void it('rate-limited deliveries stay in the store beyond the flow window, not in memory', async () => {
    const sender = new RecordingSender(clock, () => delivered);
    const logger = createLogger('silent');
    const window = new FlowWindow({
      store: outbox,
      // A budget of 8 deliveries: each counts 1.
      maxBufferedBytes: 8,
      costOf: () => 1,
      maxPending: Infinity,
      maxBytes: Infinity,
      usedBytes: () => 0,
      reclaim: () => Promise.resolve(0),
      metrics,
      logger,
      clock,
    });
    scheduler = new DeliveryScheduler({
      outbox,
      sender,
      window,
      policy: { maxAttempts: 3, maxAgeMs: 600_000, baseDelayMs: 100, maxDelayMs: 100, maxRetryAfterMs: 1_000 },
      concurrencyPerUrl: 4,
      bodyFormatFor: () => 'ucontact',
      endpointSettingsFor: (url) => (url === LIMITED ? { rateLimitPerSecond: 50 } : {}),
      metrics,
      logger,
      gonePauseMs: 1_000,
      clock,
    });
    scheduler.start();
    const url = window.open(LIMITED);
    for (let i = 0; i < 100; i++) enqueue(scheduler, ev(`m${i}`, `agent:${i % 5}`, [LIMITED]));
    assert.ok(url.buffered <= 8, `${url.buffered} buffered`);
    assert.equal(url.moreInStore, true);
    await clock.until(() => sender.to(LIMITED).length === 100, 'not all sent', 10_000);
    const last = sender.to(LIMITED).at(-1)!.atMs - sender.to(LIMITED)[0]!.atMs;
    // 100 at 50/s: 99 intervals of 20 ms.
    assert.equal(Math.round(last), 1_980);
  });

  void it("per-URL concurrency and retry budget: one URL's entry leaves the others on the defaults", async () => {
    const release: Array<() => void> = [];
    const sender = new RecordingSender(clock, (a) =>
      a.url === FREE
        ? new Promise<AttemptOutcome>((resolve) => release.push(() => resolve(delivered)))
        : {
            kind: 'retry',
            status: 500,
            error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: '500' },
            durationMs: 1,
          },
    );
    const d = make(sender, { [FREE]: { concurrency: 1 }, [LIMITED]: { maxAttempts: 1 } }, 4);
    for (let i = 0; i < 8; i++) enqueue(d, ev(`c${i}`, `agent:${i}`, [FREE]));
    enqueue(d, ev('x', 'agent:x', [LIMITED]));
    await clock.until(() => outbox.counts().dead === 1, 'the one-attempt URL was not dead-lettered', 1);
    assert.equal(sender.to(LIMITED).length, 1, 'maxAttempts 1: no retry');
    await clock.advance(1);
    // Concurrency 1 plus 4 queued per connection (queuedPerUrl / concurrencyPerUrl): 5 of 8 handed over.
    assert.equal(sender.to(FREE).length, 5);
    while (sender.to(FREE).length < 8 || release.length > 0) {
      release.shift()?.();
      await clock.advance(1);
    }
    await clock.until(() => outbox.counts().pending === 0, 'not all delivered', 10);
  });
});
