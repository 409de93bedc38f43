// The per-URL delivery metrics against a real state store, the real scheduler and a fake clock:
// ucw_delivery_latency_seconds counts from the source commit's binlog time to the 2xx, and
// ucw_oldest_pending_age_seconds from the commit of each URL's oldest pending delivery to the scrape;
// URLs are labelled as safeUrl() gives them, and leave the scrape once neither registered nor pending.
// The two gauges the status sampler sets read NaN until it does (an alert on them is then neither true nor false).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { FlowWindow } from '../../src/delivery/flow-window.js';
import { DeliveryScheduler } from '../../src/delivery/scheduler.js';
import type { OutcomeCallback, Sender } from '../../src/delivery/sender.js';
import type { DeliveryAttempt } from '../../src/delivery/types.js';
import { createLogger } from '../../src/logger.js';
import { DELIVERY_LATENCY_BUCKETS_SECONDS, Metrics } from '../../src/observe/metrics.js';
import { OUTBOX_FILE, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';

const URL_A = 'http://ops:secret@receiver-a.test/hook?token=abc';
const LABEL_A = 'http://receiver-a.test/hook?[redacted]';
const URL_B = 'http://receiver-b.test/hook';
/** How long the fake receiver takes to answer (fake time). */
const ANSWER_MS = 300;

/** Answers each attempt after ANSWER_MS of fake time: 200, or 503 for the URLs in `failing`. */
class TimedSender implements Sender {
  readonly failing = new Set<string>();
  constructor(private readonly clock: FakeClock) {}

  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void {
    void (async () => {
      let broken = false;
      for (let i = 0; i < attempts.length; i++) {
        if (broken) {
          onOutcome(i, { kind: 'unsent' });
          continue;
        }
        await this.clock.sleep(ANSWER_MS);
        if (this.failing.has(attempts[i]!.url)) {
          broken = true;
          const error = { code: 'UCW_ERR_DELIVERY_HTTP_STATUS' as const, message: 'receiver answered 503' };
          onOutcome(i, { kind: 'retry', status: 503, error, durationMs: ANSWER_MS });
        } else onOutcome(i, { kind: 'delivered', status: 200, durationMs: ANSWER_MS });
      }
    })();
  }

  cancelQueued(): void {}
}

void describe('per-URL delivery metrics', () => {
  let dir = '';
  let clock: FakeClock;
  let outbox: StateStore;
  let metrics: Metrics;
  let sender: TimedSender;
  let scheduler: DeliveryScheduler;
  let registered: string[];
  let pos = 4;

  const event = (id: string, committedAtMs: number, urls: string[]): EnqueuedEvent => ({
    id,
    name: 'AgentLog',
    orderKey: `agent:${id}`,
    occurredAtMs: Date.UTC(2026, 2, 2, 14, 0, 0),
    committedAtMs,
    body: `{"event":"AgentLog","id":"${id}"}`,
    urls,
    source: { file: 'binlog.000001', pos: ++pos },
  });
  const enqueue = (...events: EnqueuedEvent[]): void =>
    scheduler.enqueue(outbox.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos } }));
  type Sample = { name: string; labels: Record<string, unknown>; value: number };
  /** The samples of one metric after a scrape (render() runs every collect()). */
  const samples = async (metric: { get(): Promise<{ name: string; values: unknown[] }> }): Promise<Sample[]> => {
    await metrics.render();
    const got = await metric.get();
    return (got.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>).map((v) => ({
      name: v.metricName ?? got.name,
      labels: { ...v.labels },
      value: v.value,
    }));
  };
  const latencyUrls = async (): Promise<unknown[]> => [
    ...new Set((await samples(metrics.deliveryLatencySeconds)).map((s) => s.labels.url)),
  ];
  const ages = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await samples(metrics.oldestPendingAgeSeconds)).map((s) => [s.labels.url as string, s.value]));

  beforeEach(() => {
    clock = new FakeClock();
    dir = mkdtempSync(join(tmpdir(), 'ucw-delivery-metrics-'));
    outbox = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock.now() });
    metrics = new Metrics({ now: () => clock.now() });
    sender = new TimedSender(clock);
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
      policy: { maxAttempts: 100, maxAgeMs: 3_600_000, baseDelayMs: 1_000, maxDelayMs: 1_000, maxRetryAfterMs: 1_000 },
      concurrencyPerUrl: 1,
      bodyFormatFor: () => 'ucontact',
      metrics,
      logger,
      gonePauseMs: 60_000,
      clock,
    });
    registered = [URL_A, URL_B];
    metrics.trackUrls({ registered: () => registered, oldestPending: () => scheduler.oldestPending() });
    scheduler.start();
  });

  afterEach(async () => {
    const stopped = scheduler.stop(0);
    await clock.advance(0);
    await stopped;
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('latency: from the source commit to the 2xx, in seconds, by safeUrl(url)', async () => {
    const t0 = clock.now();
    // Committed 2.5 s before the bridge read it; the receiver takes 0.3 s: 2.8 s.
    enqueue(event('e1', t0 - 2_500, [URL_A]));
    // Committed 40 min ago (a backlog), sent after e1 (one connection): 2400 + 0.6 s.
    enqueue(event('e2', t0 - 2_400_000, [URL_A]));
    await clock.advance(2 * ANSWER_MS);

    const values = await samples(metrics.deliveryLatencySeconds);
    const of = (suffix: string): Sample[] => values.filter((v) => v.name === `ucw_delivery_latency_seconds_${suffix}`);
    assert.deepEqual(
      of('bucket').map((b) => [b.labels.le, b.value]),
      [
        ...DELIVERY_LATENCY_BUCKETS_SECONDS.map((le) => [le, (le >= 2.8 ? 1 : 0) + (le >= 2400.6 ? 1 : 0)]),
        ['+Inf', 2],
      ],
    );
    assert.deepEqual(
      of('count').map((c) => [c.labels.url, c.value]),
      [[LABEL_A, 2]],
    );
    assert.equal(Math.round(of('sum')[0]!.value * 1000), 2_800 + 2_400_600);
    assert.ok(values.every((v) => v.labels.url === LABEL_A));
    // The raw URL (credentials, token) appears nowhere in the scrape.
    assert.doesNotMatch(await metrics.render(), /secret|token=abc/);
  });

  void it('oldest pending age: grows while a URL fails, 0 once it drains; registered URLs report 0', async () => {
    const t0 = clock.now();
    sender.failing.add(URL_A);
    enqueue(event('old', t0 - 10_000, [URL_A]));
    enqueue(event('new', t0 - 4_000, [URL_A, URL_B]));
    await clock.advance(ANSWER_MS);
    // A's oldest pending was committed 10 s before t0; B delivered its one.
    assert.deepEqual(await ages(), { [LABEL_A]: 10.3, [URL_B]: 0 });
    await clock.advance(5_000);
    assert.deepEqual(await ages(), { [LABEL_A]: 15.3, [URL_B]: 0 });

    sender.failing.delete(URL_A);
    await clock.until(() => outbox.counts().pending === 0, 'A drains');
    assert.deepEqual(await ages(), { [LABEL_A]: 0, [URL_B]: 0 });
  });

  void it('a URL neither registered nor pending leaves the scrape; one still pending stays', async () => {
    const t0 = clock.now();
    enqueue(event('b1', t0 - 1_000, [URL_B]));
    sender.failing.add(URL_A);
    enqueue(event('a1', t0 - 1_000, [URL_A]));
    await clock.advance(ANSWER_MS);
    registered = [];
    // A is unregistered but still has its delivery pending: it stays; B is gone from both metrics.
    assert.deepEqual(await ages(), { [LABEL_A]: 1.3 });
    assert.deepEqual(
      await latencyUrls(),
      [],
      'B delivered before it was unregistered: its latency series goes with it',
    );
    sender.failing.delete(URL_A);
    await clock.until(() => outbox.counts().pending === 0, 'A drains');
    // A's 2xx came after it was unregistered: counted, then dropped at the scrape with A itself.
    assert.deepEqual(await ages(), {});
    assert.deepEqual(await latencyUrls(), []);
    registered = [URL_B];
    enqueue(event('b2', clock.now() - 2_000, [URL_B]));
    await clock.advance(ANSWER_MS);
    assert.deepEqual(await latencyUrls(), [URL_B]);
  });

  void it('with nothing buffered, the oldest pending commit is one seek on the pending index', async () => {
    const t0 = clock.now();
    outbox.commit({
      events: [event('s1', t0 - 7_000, [URL_B]), event('s2', t0 - 3_000, [URL_B])],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos },
    });
    assert.equal(outbox.oldestPendingCommit(URL_B), t0 - 7_000);
    assert.equal(outbox.oldestPendingCommit(URL_A), undefined);
    await flush();
    const db = new Database(join(dir, OUTBOX_FILE), { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT COALESCE(e.committed_at_ms, e.created_at_ms) FROM deliveries d
           JOIN events e ON e.seq = d.event_seq WHERE d.url = ? AND d.status = 0 ORDER BY d.id LIMIT 1`,
        )
        .all(URL_B) as Array<{ detail: string }>;
      const details = plan.map((p) => p.detail).join(' | ');
      assert.match(details, /SEARCH d USING (COVERING )?INDEX deliveries_pending \(url=\?\)/, details);
      assert.match(details, /SEARCH e USING INTEGER PRIMARY KEY/, details);
      assert.doesNotMatch(details, /SCAN|TEMP B-TREE/, details);
    } finally {
      db.close();
    }
  });

  void it("one scrape reads the scheduler's queues once for both per-URL metrics", async () => {
    let reads = 0;
    metrics.trackUrls({
      registered: () => registered,
      oldestPending: () => {
        reads++;
        return scheduler.oldestPending();
      },
    });
    await metrics.render();
    assert.equal(reads, 1);
  });

  void it('lag bytes and retention headroom read NaN until the sampler sets them', async () => {
    const text = await metrics.render();
    assert.match(text, /^ucw_binlog_retention_headroom_seconds Nan$/m);
    assert.match(text, /^ucw_source_lag_bytes Nan$/m);
    metrics.binlogRetentionHeadroomSeconds.set(86_400);
    metrics.sourceLagBytes.set(1_234);
    const after = await metrics.render();
    assert.match(after, /^ucw_binlog_retention_headroom_seconds 86400$/m);
    assert.match(after, /^ucw_source_lag_bytes 1234$/m);
  });
});
