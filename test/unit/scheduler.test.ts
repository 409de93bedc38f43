// DeliveryScheduler against a real state store (SQLite in a temp dir), a scripted fake Sender and a
// fake clock: 410 Gone pauses a URL (not its events, not other URLs), per-key order, retries, dead
// letters, failing URLs, the flow window holding reading back, and stop() leaving the rest pending.
// Time moves only when a test says; the tests of the system clock's long timers use mock timers.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, type TestContext } from 'node:test';
import { systemClock, type Clock } from '../../src/delivery/clock.js';
import { AHEAD_WHEN_BUSY, FlowWindow } from '../../src/delivery/flow-window.js';
import { GONE_PAUSES_META_KEY } from '../../src/delivery/pause-store.js';
import type { RetryPolicy } from '../../src/delivery/retry-policy.js';
import { DeliveryScheduler, MAX_CHAIN } from '../../src/delivery/scheduler.js';
import type { OutcomeCallback, Sender } from '../../src/delivery/sender.js';
import type { AttemptOutcome, DeliveryAttempt } from '../../src/delivery/types.js';
import { FAILURES_TO_FAILING } from '../../src/delivery/url-health.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { DeliveryStatus, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';

const URL_A = 'http://receiver-a.test/hook';
const URL_B = 'http://receiver-b.test/hook';
const PAUSE_MS = 300;

const POLICY: RetryPolicy = {
  maxAttempts: 2,
  maxAgeMs: 60_000,
  baseDelayMs: 40,
  maxDelayMs: 80,
  maxRetryAfterMs: 1_000,
};

/** The clock of the test: a FakeClock, or the system clock under mock timers (its long-timer tests). */
let fake = new FakeClock();
let clock: Clock = fake;

interface Call {
  readonly url: string;
  readonly eventId: string;
  readonly attempt: number;
  readonly atMs: number;
  /** Requests to the same URL in flight when this one started, itself included. */
  concurrentAtStart: number;
}

type Script = (call: Call, nthForUrl: number) => AttemptOutcome | Promise<AttemptOutcome>;

const delivered = (status = 200): AttemptOutcome => ({ kind: 'delivered', status, durationMs: 1 });
const gone = (): AttemptOutcome => ({
  kind: 'gone',
  status: 410,
  error: { code: 'UCW_ERR_DELIVERY_GONE', message: 'receiver answered 410 Gone' },
  durationMs: 1,
});
const serverError = (): AttemptOutcome => ({
  kind: 'retry',
  status: 500,
  error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 500' },
  durationMs: 1,
});
const badRequest = (): AttemptOutcome => ({
  kind: 'dead',
  status: 400,
  error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 400; not retried' },
  durationMs: 1,
});

/** A Sender over a one-attempt function, keeping chains in order: the rest unsent after a failure. */
function inOrder(
  send: (a: DeliveryAttempt) => Promise<AttemptOutcome>,
  cancelQueued: (url?: string) => void = () => undefined,
): Sender {
  return {
    sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void {
      void (async () => {
        let broken = false;
        for (let i = 0; i < attempts.length; i++) {
          if (broken) {
            onOutcome(i, { kind: 'unsent' });
            continue;
          }
          const outcome = await send(attempts[i]!);
          broken = outcome.kind !== 'delivered';
          onOutcome(i, outcome);
        }
      })();
    },
    cancelQueued,
  };
}

/** Records every call and answers from a script; tracks concurrent calls per URL. */
class FakeSender implements Sender {
  readonly calls: Call[] = [];
  readonly maxConcurrent = new Map<string, number>();
  /** Length of every chain handed over (sendInOrder). */
  readonly chains: number[] = [];
  private readonly running = new Set<{ readonly url: string; cancelled: boolean }>();
  private readonly current = new Map<string, number>();

  constructor(public script: Script) {}

  private async send(a: DeliveryAttempt): Promise<AttemptOutcome> {
    const now = (this.current.get(a.url) ?? 0) + 1;
    const call: Call = {
      url: a.url,
      eventId: a.eventId,
      attempt: a.attempt,
      atMs: clock.now(),
      concurrentAtStart: now,
    };
    this.calls.push(call);
    this.current.set(a.url, now);
    this.maxConcurrent.set(a.url, Math.max(now, this.maxConcurrent.get(a.url) ?? 0));
    try {
      return await this.script(call, this.calls.filter((c) => c.url === a.url).length);
    } finally {
      this.current.set(a.url, (this.current.get(a.url) ?? 1) - 1);
    }
  }

  /** Keeps a chain in order as the WorkerClient does: one at a time, the rest unsent after a failure. */
  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void {
    this.chains.push(attempts.length);
    const chain = { url: attempts[0]!.url, cancelled: false };
    this.running.add(chain);
    void (async () => {
      let broken = false;
      for (let i = 0; i < attempts.length; i++) {
        if (broken || chain.cancelled) {
          onOutcome(i, { kind: 'unsent' });
          continue;
        }
        const outcome = await this.send(attempts[i]!);
        broken = outcome.kind !== 'delivered';
        onOutcome(i, outcome);
      }
      this.running.delete(chain);
    })();
  }

  /** Chains stop after the attempt they are on; the rest come back unsent. */
  cancelQueued(url?: string): void {
    for (const chain of this.running) if (url === undefined || chain.url === url) chain.cancelled = true;
  }

  to(url: string): Call[] {
    return this.calls.filter((c) => c.url === url);
  }
}

interface LogLine {
  level: string;
  msg: string;
  code?: string;
  [k: string]: unknown;
}

let seq = 0;
function ev(id: string, orderKey: string, urls: string[]): EnqueuedEvent {
  seq++;
  return {
    id,
    name: 'AgentLog',
    orderKey,
    occurredAtMs: Date.UTC(2026, 2, 2, 14, 0, 0),
    body: `{"event":"AgentLog","id":"${id}"}`,
    urls,
    source: { file: 'binlog.000001', pos: 4 + seq },
  };
}

void describe('DeliveryScheduler', () => {
  let dir = '';
  let outbox: StateStore;
  let logs: LogLine[];
  let metrics: Metrics;
  const schedulers: DeliveryScheduler[] = [];
  const windows = new Map<DeliveryScheduler, FlowWindow>();
  /** The flow window of `d`: the gate on reading. */
  const win = (d: DeliveryScheduler): FlowWindow => windows.get(d)!;

  const make = (
    sender: Sender,
    over: {
      concurrencyPerUrl?: number;
      queuedPerUrl?: number;
      maxInFlightTotal?: number;
      gonePauseMs?: number;
      maxBufferedPerUrl?: number;
      policy?: RetryPolicy;
    } = {},
  ): DeliveryScheduler => {
    const logger = createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    const window = new FlowWindow({
      store: outbox,
      // A budget of maxBufferedPerUrl deliveries: each counts 1.
      ...(over.maxBufferedPerUrl === undefined ? {} : { maxBufferedBytes: over.maxBufferedPerUrl, costOf: () => 1 }),
      maxPending: Infinity,
      maxBytes: Infinity,
      usedBytes: () => 0,
      reclaim: () => Promise.resolve(0),
      metrics,
      logger,
      clock,
    });
    const d = new DeliveryScheduler({
      outbox,
      sender,
      window,
      policy: over.policy ?? POLICY,
      concurrencyPerUrl: over.concurrencyPerUrl ?? 1,
      ...(over.queuedPerUrl === undefined ? {} : { queuedPerUrl: over.queuedPerUrl }),
      ...(over.maxInFlightTotal === undefined ? {} : { maxInFlightTotal: over.maxInFlightTotal }),
      bodyFormatFor: () => 'ucontact',
      metrics,
      logger,
      gonePauseMs: over.gonePauseMs ?? PAUSE_MS,
      clock,
    });
    schedulers.push(d);
    windows.set(d, window);
    return d;
  };
  /** stop(graceMs) with the fake clock running: resolves once stop() does, fails if it never does. */
  const stop = async (d: DeliveryScheduler, graceMs: number): Promise<void> => {
    let done = false;
    const stopped = d.stop(graceMs).then(() => (done = true));
    await fake.until(() => done, 'stop() did not return within its grace period', graceMs);
    await stopped;
  };
  /** Commits the events in one source transaction and hands the new deliveries to `d`. */
  const enqueue = (d: DeliveryScheduler, ...events: EnqueuedEvent[]): void => {
    d.enqueue(outbox.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos: 4 + seq } }));
  };
  const deliveryOf = (eventId: string, url: string) => {
    for (let id = 1; id < 1000; id++) {
      const row = outbox.delivery(id);
      if (!row) break;
      if (row.eventId === eventId && row.url === url) return row;
    }
    throw new Error(`no delivery ${eventId} -> ${url}`);
  };
  const pausedGauge = async (): Promise<number | undefined> => (await metrics.urlsPaused.get()).values[0]?.value;
  const goneLogs = (): LogLine[] => logs.filter((l) => l.code === 'UCW_ERR_DELIVERY_GONE' && l.level === 'error');

  beforeEach(() => {
    fake = new FakeClock();
    clock = fake;
    dir = mkdtempSync(join(tmpdir(), 'ucw-scheduler-'));
    outbox = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock.now() });
    logs = [];
    metrics = new Metrics();
  });

  afterEach(async () => {
    // The directory goes even when a stop fails: no temp dir left behind by a failing test.
    try {
      for (const d of schedulers.splice(0)) await stop(d, 1_000);
      windows.clear();
      outbox.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it(
    '410 pauses the URL: nothing goes to it during the ' + 'pause, then one probe; 2xx resumes; other URLs go on',
    async () => {
      // A answers 410 to its first two calls (the first and the first probe), then 200.
      const sender = new FakeSender((call, nth) => (call.url === URL_A && nth <= 2 ? gone() : delivered()));
      const d = make(sender);
      d.start();
      enqueue(d, ev('a1', 'agent:x', [URL_A, URL_B]));
      enqueue(d, ev('a2', 'agent:x', [URL_A]));
      enqueue(d, ev('a3', 'agent:y', [URL_A]));
      enqueue(d, ev('b1', 'agent:z', [URL_B]));

      await fake.until(() => goneLogs().length === 1, 'no 410 log');
      const pausedAt = sender.to(URL_A)[0]!.atMs;
      assert.equal(await pausedGauge(), 1);
      assert.deepEqual(d.pausedUrls, [URL_A]);
      const first = goneLogs()[0]!;
      assert.equal(first.msg, 'receiver answered 410 Gone; URL paused for 0.3 s; events kept');
      assert.equal(first.url, URL_A);
      assert.equal(first.status, 410);

      // URL B is not held back by A's pause.
      await fake.until(() => sender.to(URL_B).length === 2, 'URL B held back');
      // During the pause: no second call of any key to A, and nothing dead or lost.
      await fake.advance(PAUSE_MS / 2);
      assert.equal(sender.to(URL_A).length, 1, 'a request went to a paused URL');
      assert.equal(outbox.counts().dead, 0);
      assert.equal(deliveryOf('a1', URL_A).status, DeliveryStatus.pending);
      assert.equal(deliveryOf('a3', URL_A).status, DeliveryStatus.pending);

      // The probe: the head of the key that got the 410, after the pause; it gets 410 again -> paused again.
      await fake.until(() => goneLogs().length === 2, 'probe did not pause again');
      const probe = sender.to(URL_A)[1]!;
      assert.equal(probe.eventId, 'a1');
      assert.ok(probe.atMs - pausedAt >= PAUSE_MS - 20, `probe after ${probe.atMs - pausedAt} ms`);
      assert.equal(sender.to(URL_A).length, 2);
      // Two 410s with maxAttempts 2: not counted as attempts, never dead-lettered.
      assert.equal(deliveryOf('a1', URL_A).attempts, 0);
      assert.equal(deliveryOf('a1', URL_A).status, DeliveryStatus.pending);

      // Second probe gets 200: the URL resumes and every key drains, in key order.
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      const toA = sender.to(URL_A).map((c) => c.eventId);
      assert.deepEqual(toA.slice(0, 3), ['a1', 'a1', 'a1']);
      assert.ok(toA.indexOf('a2') > 2 && toA.indexOf('a3') > 2, toA.join(','));
      assert.ok(sender.to(URL_A)[2]!.atMs - probe.atMs >= PAUSE_MS - 20);
      assert.equal(deliveryOf('a1', URL_A).status, DeliveryStatus.delivered);
      assert.equal(deliveryOf('a1', URL_A).attempts, 1);
      assert.equal(outbox.counts().dead, 0);
      assert.equal(await pausedGauge(), 0);
      assert.deepEqual(d.pausedUrls, []);
      assert.equal(goneLogs().length, 2, 'reported once per pause');
      assert.ok(logs.some((l) => l.msg === 'URL resumed after 410 Gone pause'));
    },
  );

  void it(
    '410s of requests already in flight: one pause, one ' + 'report, one probe at a time, then full concurrency',
    async () => {
      let goneUntil = 4; // the first four calls to A (all in flight together) answer 410
      const release: Array<() => void> = [];
      const sender = new FakeSender(async (call, nth) => {
        if (call.url !== URL_A) return delivered();
        if (nth <= goneUntil) {
          await new Promise<void>((r) => release.push(r));
          return gone();
        }
        return delivered();
      });
      const d = make(sender, { concurrencyPerUrl: 4 });
      d.start();
      for (let i = 0; i < 8; i++) enqueue(d, ev(`e${i}`, `agent:${i}`, [URL_A]));
      await fake.until(() => release.length === 4, 'four parallel requests expected');
      for (const r of release.splice(0)) r();
      await fake.until(() => goneLogs().length === 1);
      await fake.advance(50);
      assert.equal(goneLogs().length, 1, 'one report per pause, not per 410');
      assert.equal(sender.calls.length, 4);
      goneUntil = 0;
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      // The probe went alone; after it, the remaining keys went in parallel again.
      assert.equal(sender.calls[4]!.eventId, 'e0', 'the probe is the head of the first key that got the 410');
      assert.equal(sender.calls[4]!.concurrentAtStart, 1);
      assert.ok(sender.calls[4]!.atMs - sender.calls[0]!.atMs >= PAUSE_MS - 20);
      assert.equal(sender.calls.length, 12);
      assert.ok(
        Math.max(...sender.calls.slice(5).map((c) => c.concurrentAtStart)) > 1,
        'concurrency restored after the resume',
      );
      assert.equal(outbox.counts().dead, 0);
    },
  );

  void it('a pause survives a restart: the new scheduler does not send to the URL before it ends', async () => {
    const sender = new FakeSender((call, nth) =>
      call.url === URL_A && call.eventId === 'p1' && nth === 1 ? gone() : delivered(),
    );
    const d1 = make(sender, { gonePauseMs: 400 });
    d1.start();
    enqueue(d1, ev('p1', 'agent:x', [URL_A]), ev('p2', 'agent:y', [URL_A]));
    await fake.until(() => goneLogs().length === 1);
    const pausedAt = sender.calls[0]!.atMs;
    await stop(d1, 100);
    assert.ok(outbox.getMeta(GONE_PAUSES_META_KEY)?.includes(URL_A));

    const d2 = make(sender, { gonePauseMs: 400 });
    d2.start();
    assert.deepEqual(d2.pausedUrls, [URL_A]);
    await fake.until(() => outbox.counts().pending === 0);
    assert.equal(sender.calls[1]!.eventId, 'p1', 'the probe after the restart is the key that got the 410');
    assert.ok(sender.calls[1]!.atMs - pausedAt >= 380, `sent ${sender.calls[1]!.atMs - pausedAt} ms after the 410`);
    assert.equal(outbox.getMeta(GONE_PAUSES_META_KEY), '{}');
  });

  void it('per-key order under a retry; other keys are not held back', async () => {
    const sender = new FakeSender((call) =>
      call.eventId === 'k1-1' && call.attempt === 1 ? serverError() : delivered(),
    );
    const d = make(sender, { concurrencyPerUrl: 2 });
    d.start();
    enqueue(d, ev('k1-1', 'agent:one', [URL_A]), ev('k2-1', 'agent:two', [URL_A]));
    enqueue(d, ev('k1-2', 'agent:one', [URL_A]));
    enqueue(d, ev('k1-3', 'agent:one', [URL_A]), ev('k2-2', 'agent:two', [URL_A]));
    await fake.until(
      () => outbox.counts().pending === 0,
      () => `pending ${outbox.counts().pending}`,
    );

    const ids = sender.calls.map((c) => c.eventId);
    assert.deepEqual(
      ids.filter((id) => id.startsWith('k1')),
      ['k1-1', 'k1-1', 'k1-2', 'k1-3'],
    );
    assert.deepEqual(
      ids.filter((id) => id.startsWith('k2')),
      ['k2-1', 'k2-2'],
    );
    // Key two finished while key one waited for its retry.
    assert.ok(ids.lastIndexOf('k2-2') < ids.lastIndexOf('k1-1'), ids.join(','));
    const retried = deliveryOf('k1-1', URL_A);
    assert.equal(retried.status, DeliveryStatus.delivered);
    assert.equal(retried.attempts, 2);
    assert.ok(logs.some((l) => l.msg === 'delivery failed; will retry' && l.status === 500));
  });

  void it('retry budget spent: dead-lettered with UCW_ERR_DELIVERY_EXHAUSTED, and the key moves on', async () => {
    const sender = new FakeSender((call) => (call.eventId === 'x1' ? serverError() : delivered()));
    const d = make(sender);
    d.start();
    enqueue(d, ev('x1', 'agent:x', [URL_A]), ev('x2', 'agent:x', [URL_A]));
    await fake.until(() => outbox.counts().pending === 0);
    assert.deepEqual(
      sender.calls.map((c) => c.eventId),
      ['x1', 'x1', 'x2'],
    );
    const [dead] = outbox.deadLetters(10);
    assert.equal(dead?.eventId, 'x1');
    assert.match(dead?.lastError ?? '', /^UCW_ERR_DELIVERY_EXHAUSTED: retry budget spent \(attempts\)/);
  });

  void it('400: dead-lettered at once (kept in the store), the next event of the key is released', async () => {
    const sender = new FakeSender((call) => (call.eventId === 'd1' ? badRequest() : delivered()));
    const d = make(sender);
    d.start();
    enqueue(d, ev('d1', 'agent:x', [URL_A]), ev('d2', 'agent:x', [URL_A]));
    await fake.until(() => outbox.counts().pending === 0);
    assert.deepEqual(
      sender.calls.map((c) => c.eventId),
      ['d1', 'd2'],
    );
    const row = deliveryOf('d1', URL_A);
    assert.equal(row.status, DeliveryStatus.dead);
    assert.equal(row.attempts, 1);
    const [dead] = outbox.deadLetters(10);
    assert.equal(dead?.lastStatus, 400);
    assert.match(dead?.lastError ?? '', /^UCW_ERR_DELIVERY_HTTP_STATUS: receiver answered 400/);
    assert.equal((await metrics.outboxDead.get()).values[0]?.value, 1);
    const log = logs.find((l) => l.msg === 'delivery dead-lettered (kept in the outbox)');
    assert.equal(log?.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
  });

  void it('stop() starts nothing more and leaves the rest pending; a new scheduler delivers it', async () => {
    let releaseFirst: (() => void) | undefined;
    const sender = new FakeSender(async (call) => {
      if (call.eventId === 's1') {
        await new Promise<void>((r) => (releaseFirst = r));
        return delivered();
      }
      if (call.eventId === 'r1' && call.attempt === 1) return serverError();
      return delivered();
    });
    const d = make(sender, { concurrencyPerUrl: 4 });
    d.start();
    enqueue(d, ev('s1', 'agent:s', [URL_A]), ev('s2', 'agent:s', [URL_A]), ev('r1', 'agent:r', [URL_A]));
    await fake.until(() => releaseFirst !== undefined && sender.calls.some((c) => c.eventId === 'r1'));
    const started = clock.now();
    await stop(d, 50);
    assert.ok(clock.now() - started < 500, 'stop waits at most the grace period');
    releaseFirst!();
    await fake.advance(POLICY.maxDelayMs * 2);
    assert.deepEqual(sender.calls.map((c) => c.eventId).sort(), ['r1', 's1'], 'nothing started after stop()');
    assert.equal(deliveryOf('s2', URL_A).status, DeliveryStatus.pending);
    assert.equal(deliveryOf('r1', URL_A).status, DeliveryStatus.pending);
    assert.equal(deliveryOf('r1', URL_A).attempts, 1);

    const d2 = make(sender);
    d2.start();
    await fake.until(() => outbox.counts().pending === 0);
    assert.equal(outbox.counts().dead, 0);
    assert.equal(sender.calls.filter((c) => c.eventId === 's2').length, 1);
  });

  void it('with its sender busy, a URL keeps at most AHEAD_WHEN_BUSY unsent deliveries beyond a page', async () => {
    // 24,000 deliveries on 4 keys in the store before start: every key is busy whenever the sender is.
    const events = Array.from({ length: 24_000 }, (_, i) => ev(`b${i}`, `agent:k${i % 4}`, [URL_A]));
    outbox.commit({ events, mirror: [], checkpoint: { file: 'binlog.000001', pos: 50_000 } });
    let most = 0;
    let sampled = 0;
    const sender = new FakeSender((call, nth) => {
      // Once the start-up fill has drained below the limit, it never pages far above it again.
      if (nth > 9_000 && nth <= 15_000) {
        most = Math.max(most, win(d).open(URL_A).buffered);
        sampled++;
      }
      return Promise.resolve(delivered());
    });
    const d = make(sender, { concurrencyPerUrl: 4, maxBufferedPerUrl: 12_000 });
    d.start();
    await fake.until(
      () => sender.calls.length >= 24_000,
      () => `sent ${sender.calls.length}`,
    );
    assert.equal(sampled, 6_000);
    assert.ok(most <= AHEAD_WHEN_BUSY + 2_000 + 4, `at most the limit, a page and those in flight: ${most}`);
    assert.ok(most >= AHEAD_WHEN_BUSY, `still paged ahead of the sender: ${most}`);
  });

  void it(
    'buffers at most maxBufferedPerUrl deliveries in memory; the ' +
      'rest, staged ones included, are read from the outbox in order',
    async () => {
      const sender = new FakeSender(async () => {
        await fake.sleep(1);
        return delivered();
      });
      const d = make(sender, { concurrencyPerUrl: 4, maxBufferedPerUrl: 5 });
      d.start();
      const keys = ['agent:a', 'agent:b', 'agent:c'];
      const expected = new Map<string, string[]>(keys.map((k) => [k, []]));
      let n = 0;
      const next = (url: string[] = [URL_A]): EnqueuedEvent => {
        const key = keys[n % keys.length]!;
        const e = ev(`w${n++}`, key, url);
        if (url.includes(URL_A)) expected.get(key)!.push(e.id);
        return e;
      };
      // Three commits of 20 (far over the window), then a large transaction: two staged parts and its commit.
      for (let c = 0; c < 3; c++) enqueue(d, ...Array.from({ length: 20 }, () => next()));
      const staged = outbox.stage(Array.from({ length: 15 }, () => next()));
      for (const [url, count] of outbox.stage(Array.from({ length: 15 }, () => next())))
        staged.set(url, (staged.get(url) ?? 0) + count);
      d.enqueue(
        outbox.commit({ events: [next(), next()], mirror: [], checkpoint: { file: 'binlog.000001', pos: 99_000 } }),
        staged,
      );
      assert.equal(d.pending, 92, 'pending counts the store and memory');

      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.equal(d.pending, 0);
      assert.equal(sender.calls.length, 92, 'each delivery sent once');
      for (const key of keys) {
        const sent = sender.calls.map((c) => c.eventId).filter((id) => expected.get(key)!.includes(id));
        assert.deepEqual(sent, expected.get(key), `commit order kept for ${key}`);
      }
    },
  );

  void it(
    'a URL failing again and again is marked failing as a ' +
      'whole and probed one delivery at a time; other URLs go on',
    async () => {
      const policy: RetryPolicy = {
        maxAttempts: 1_000,
        maxAgeMs: 60_000,
        baseDelayMs: 100,
        maxDelayMs: 400,
        maxRetryAfterMs: 1_000,
      };
      let aDown = true;
      const sender = new FakeSender((call) => (call.url === URL_A && aDown ? serverError() : delivered()));
      const d = make(sender, { concurrencyPerUrl: 8, policy });
      d.start();
      // 40 keys: unless the URL is marked failing, each key's head would retry on its own schedule.
      enqueue(d, ...Array.from({ length: 40 }, (_, i) => ev(`f${i}`, `agent:${i}`, [URL_A])));
      await fake.until(() => logs.some((l) => l.code === 'UCW_WARN_DELIVERY_URL_FAILING'), 'not marked failing');
      const failing = logs.find((l) => l.code === 'UCW_WARN_DELIVERY_URL_FAILING')!;
      assert.equal(failing.level, 'warn');
      assert.equal(failing.url, URL_A);
      assert.equal((await metrics.urlsFailing.get()).values[0]?.value, 1);

      // While failing: a single probe per wait (100, 200, 400, 400 ms), never 8 at a time.
      const before = sender.to(URL_A).length;
      enqueue(d, ev('other', 'agent:o', [URL_B]));
      await fake.until(() => sender.to(URL_B).length === 1, 'URL B held back by A');
      await fake.advance(1_000);
      const during = sender.to(URL_A).slice(before);
      assert.ok(during.length >= 2 && during.length <= 5, `${during.length} calls to a failing URL in 1 s`);
      assert.ok(
        during.every((c) => c.concurrentAtStart === 1),
        'probes go one at a time',
      );
      assert.equal(
        logs.filter((l) => l.code === 'UCW_WARN_DELIVERY_URL_FAILING' && l.level === 'warn').length,
        1,
        'warned once per outage',
      );
      assert.equal(outbox.counts().dead, 0);

      // The receiver is back: the next probe succeeds and everything drains at full concurrency.
      aDown = false;
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.ok(logs.some((l) => l.msg === 'failing URL answered again; delivery resumed'));
      assert.equal((await metrics.urlsFailing.get()).values[0]?.value, 0);
      assert.ok(Math.max(...sender.to(URL_A).map((c) => c.concurrentAtStart)) > 1, 'full concurrency after recovery');
      assert.equal(outbox.counts().delivered, 41, 'every event of the failing URL delivered, none dropped');
    },
  );

  void it(
    'hands the sender concurrencyPerUrl + queuedPerUrl attempts ' +
      'of a URL; marking it failing cancels those it queued',
    async () => {
      const policy: RetryPolicy = {
        maxAttempts: 1_000,
        maxAgeMs: 60_000,
        baseDelayMs: 200,
        maxDelayMs: 400,
        maxRetryAfterMs: 1_000,
      };
      const answers: Array<(o: AttemptOutcome) => void> = [];
      const cancelled: Array<string | undefined> = [];
      const sender = inOrder(
        () => new Promise<AttemptOutcome>((resolve) => answers.push(resolve)),
        (url) => void cancelled.push(url),
      );
      const d = make(sender, { concurrencyPerUrl: 2, queuedPerUrl: 4, policy });
      d.start();
      enqueue(d, ...Array.from({ length: 20 }, (_, i) => ev(`q${i}`, `agent:${i}`, [URL_A])));
      await fake.until(
        () => answers.length === 6,
        () => `${answers.length} handed over`,
      );
      await fake.advance(50);
      assert.equal(answers.length, 6, 'no more than 2 running + 4 queued at once');
      // Five retryable failures in a row mark the URL failing: what the sender still queues is called back.
      for (const answer of answers.splice(0, 5)) answer(serverError());
      await fake.until(() => cancelled.includes(URL_A), 'cancelQueued not called when the URL was marked failing');
      await stop(d, 100);
      assert.deepEqual(cancelled.at(-1), undefined, 'stop() cancels everything still queued');
    },
  );

  void it('hands the sender at most maxInFlightTotal attempts of all URLs; those held back take turns', async () => {
    const sent: string[] = [];
    const answers: Array<(o: AttemptOutcome) => void> = [];
    const sender = new FakeSender(
      (call) =>
        new Promise<AttemptOutcome>((resolve) => {
          sent.push(call.url);
          answers.push(resolve);
        }),
    );
    const d = make(sender, { concurrencyPerUrl: 4, maxInFlightTotal: 5 });
    d.start();
    enqueue(d, ...Array.from({ length: 8 }, (_, i) => ev(`t${i}`, `agent:${i}`, [URL_A, URL_B])));
    await fake.until(
      () => sent.length === 5,
      () => `${sent.length} handed over`,
    );
    await fake.advance(50);
    assert.deepEqual(sent, [URL_A, URL_A, URL_A, URL_A, URL_B], '4 of URL A, 1 of URL B: the total is reached');
    answers.shift()!(delivered());
    await fake.until(() => sent.length === 6, 'no attempt after one ended');
    assert.equal(sent[5], URL_B, 'URL B, held back, takes the free slot first');
    while (outbox.counts().pending > 0) {
      assert.ok(answers.length <= 5, `${answers.length} in flight`);
      for (const answer of answers.splice(0)) answer(delivered());
      await fake.until(
        () => answers.length > 0 || outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
    }
    assert.equal(sent.length, 16);
  });

  void it(
    "a key's backlog goes to an in-order sender in chains of at most " +
      'MAX_CHAIN; a plain sender gets one delivery of a key at a time',
    async () => {
      const ids = Array.from({ length: MAX_CHAIN + 4 }, (_, i) => `c${i + 1}`);
      const chained = new FakeSender(() => delivered());
      const d = make(chained, { concurrencyPerUrl: 2, queuedPerUrl: 64 });
      d.start();
      enqueue(d, ...ids.map((id) => ev(id, 'agent:c', [URL_A])), ev('o1', 'agent:o', [URL_A]));
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.deepEqual(chained.chains, [MAX_CHAIN, 1, 4], 'the key in two chains, the other key on its own');
      assert.deepEqual(
        chained.calls.map((c) => c.eventId).filter((id) => id.startsWith('c')),
        ids,
        'in commit order',
      );

      let running = 0;
      let most = 0;
      const plain = inOrder(async () => {
        most = Math.max(most, ++running);
        await fake.sleep(2);
        running--;
        return delivered();
      });
      const d2 = make(plain, { concurrencyPerUrl: 4, queuedPerUrl: 64 });
      d2.start();
      enqueue(d2, ...Array.from({ length: 6 }, (_, i) => ev(`p${i}`, 'agent:p', [URL_A])));
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.equal(most, 1, 'one delivery of the key at a time');
    },
  );

  void it(
    'a failure within a chain: the rest come back unsent, ' + 'unchanged, and follow the retried delivery in order',
    async () => {
      const sender = new FakeSender((call) =>
        call.eventId === 'f3' && call.attempt === 1 ? serverError() : delivered(),
      );
      const d = make(sender, { queuedPerUrl: 8 });
      d.start();
      enqueue(d, ...['f1', 'f2', 'f3', 'f4', 'f5'].map((id) => ev(id, 'agent:f', [URL_A])));
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.deepEqual(
        sender.calls.map((c) => c.eventId),
        ['f1', 'f2', 'f3', 'f3', 'f4', 'f5'],
      );
      assert.deepEqual(sender.chains, [5, 3], 'the failed one heads the next chain');
      assert.equal(deliveryOf('f3', URL_A).attempts, 2);
      assert.equal(deliveryOf('f4', URL_A).attempts, 1, 'the unsent attempt is not counted');
      assert.equal(outbox.counts().dead, 0);
    },
  );

  void it(
    "a 410 within a chain pauses the URL; the chain's " + 'rest waits with it and follows the probe in order',
    async () => {
      const sender = new FakeSender((call, nth) => (call.eventId === 'g2' && nth === 2 ? gone() : delivered()));
      const d = make(sender, { queuedPerUrl: 8 });
      d.start();
      enqueue(d, ...['g1', 'g2', 'g3', 'g4'].map((id) => ev(id, 'agent:g', [URL_A])));
      await fake.until(() => goneLogs().length === 1, 'no 410 log');
      await fake.advance(PAUSE_MS / 2);
      assert.deepEqual(
        sender.calls.map((c) => c.eventId),
        ['g1', 'g2'],
        'nothing after the 410 during the pause',
      );
      assert.equal(deliveryOf('g3', URL_A).status, DeliveryStatus.pending);
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.deepEqual(
        sender.calls.map((c) => c.eventId),
        ['g1', 'g2', 'g2', 'g3', 'g4'],
      );
      assert.equal(sender.chains.at(-2), 1, 'the probe goes alone');
      assert.deepEqual(d.pausedUrls, []);
    },
  );

  void it(
    'an unsent attempt leaves its delivery unchanged ' + 'and in line: it is sent again, attempts not counted',
    async () => {
      let first = true;
      const sender = new FakeSender(() => {
        if (first) {
          first = false;
          return { kind: 'unsent' };
        }
        return delivered();
      });
      const d = make(sender);
      d.start();
      enqueue(d, ev('u1', 'agent:u', [URL_A]), ev('u2', 'agent:u', [URL_A]));
      await fake.until(
        () => outbox.counts().pending === 0,
        () => `pending ${outbox.counts().pending}`,
      );
      assert.deepEqual(
        sender.to(URL_A).map((c) => c.eventId),
        ['u1', 'u1', 'u2'],
        'u1 again first: order kept',
      );
      const row = deliveryOf('u1', URL_A);
      assert.equal(row.attempts, 1, 'the unsent attempt is not counted');
      assert.equal(row.status, DeliveryStatus.delivered);
    },
  );

  void it('a failing URL that turns paused (410): ucw_urls_failing back to 0, ucw_urls_paused 1', async () => {
    const policy: RetryPolicy = {
      maxAttempts: 1_000,
      maxAgeMs: 60_000,
      baseDelayMs: 20,
      maxDelayMs: 40,
      maxRetryAfterMs: 1_000,
    };
    const sender = new FakeSender((_call, nth) => (nth <= FAILURES_TO_FAILING ? serverError() : gone()));
    const d = make(sender, { concurrencyPerUrl: 8, policy, gonePauseMs: 60_000 });
    d.start();
    enqueue(d, ...Array.from({ length: FAILURES_TO_FAILING }, (_, i) => ev(`h${i}`, `agent:${i}`, [URL_A])));
    await fake.until(() => logs.some((l) => l.code === 'UCW_WARN_DELIVERY_URL_FAILING'), 'not marked failing');
    await fake.until(() => goneLogs().length === 1, 'the probe got no 410 pause');
    assert.equal((await metrics.urlsFailing.get()).values[0]?.value, 0, 'ucw_urls_failing still counts the paused URL');
    assert.equal(await pausedGauge(), 1);
  });

  void it(
    "a failing URL's pending deliveries are not drainable: " + 'the outbox limit counts only what can drain',
    async () => {
      const policy: RetryPolicy = {
        maxAttempts: 1_000,
        maxAgeMs: 60_000,
        baseDelayMs: 5_000,
        maxDelayMs: 10_000,
        maxRetryAfterMs: 1_000,
      };
      const sender = new FakeSender((call) =>
        call.url === URL_A ? serverError() : new Promise<AttemptOutcome>(() => undefined),
      );
      const d = make(sender, { concurrencyPerUrl: 8, policy });
      d.start();
      enqueue(d, ...Array.from({ length: FAILURES_TO_FAILING }, (_, i) => ev(`f${i}`, `agent:${i}`, [URL_A])));
      await fake.until(() => logs.some((l) => l.code === 'UCW_WARN_DELIVERY_URL_FAILING'), 'not marked failing');
      enqueue(d, ev('f-late', 'agent:late', [URL_A]), ev('b1', 'agent:b', [URL_B]));
      assert.equal(d.pending, FAILURES_TO_FAILING + 2);
      assert.equal(win(d).drainable, 1, "only URL B's delivery can drain");
    },
  );

  void it(
    'cancelRegistrations: pending deliveries of (url, event) ' +
      'cancelled and kept; one in flight is cancelled if not delivered',
    async () => {
      const calls: Array<{ eventId: string; url: string; answer: (o: AttemptOutcome) => void }> = [];
      const sender = inOrder(
        (a) => new Promise<AttemptOutcome>((answer) => calls.push({ eventId: a.eventId, url: a.url, answer })),
      );
      const d = make(sender);
      d.start();
      const other = { ...ev('other-event', 'agent:c0', [URL_A]), name: 'AgentBreak' as const };
      enqueue(
        d,
        ev('c1', 'agent:c1', [URL_A]),
        ev('c2', 'agent:c1', [URL_A]),
        ev('c3', 'agent:c3', [URL_A, URL_B]),
        other,
      );
      const next = async (url: string): Promise<{ eventId: string; answer: (o: AttemptOutcome) => void }> => {
        await fake.until(() => calls.some((c) => c.url === url), `nothing sent to ${url}`);
        return calls.splice(
          calls.findIndex((c) => c.url === url),
          1,
        )[0]!;
      };
      const c1 = await next(URL_A);
      assert.equal(c1.eventId, 'c1');
      d.cancelRegistrations([{ url: URL_A, event: 'AgentLog' }]);
      assert.equal(deliveryOf('c2', URL_A).status, DeliveryStatus.cancelled);
      assert.equal(deliveryOf('c3', URL_A).status, DeliveryStatus.cancelled);
      assert.equal(deliveryOf('c1', URL_A).status, DeliveryStatus.pending, 'in flight: left to finish');
      assert.equal(deliveryOf('other-event', URL_A).status, DeliveryStatus.pending, 'another event of the URL is kept');
      assert.equal(deliveryOf('c3', URL_B).status, DeliveryStatus.pending, 'another URL is kept');
      c1.answer(serverError());
      await fake.until(
        () => deliveryOf('c1', URL_A).status === DeliveryStatus.cancelled,
        'c1 kept after its registration was removed',
      );
      const rest = await next(URL_A);
      assert.equal(rest.eventId, 'other-event');
      rest.answer(delivered());
      (await next(URL_B)).answer(delivered());
      await fake.until(
        () => d.pending === 0,
        () => `pending ${d.pending}`,
      );
      assert.equal(calls.length, 0, 'a cancelled delivery was sent');
      assert.equal((await metrics.deliveriesCancelled.get()).values[0]?.value, 3);
      const cancelLogs = logs.filter((l) => l.code === 'UCW_WARN_DELIVERY_CANCELLED');
      assert.equal(cancelLogs.length, 1);
      assert.equal(cancelLogs[0]!.cancelled, 2);
      assert.equal(outbox.cancelledCount(), 3);
    },
  );

  void it(
    'cancelRegistrations with a chain in flight: the failed ' +
      'head and the unsent rest are cancelled, not sent again',
    async () => {
      const gate: Array<() => void> = [];
      const sender = new FakeSender(async () => {
        await new Promise<void>((r) => gate.push(r));
        return serverError();
      });
      const d = make(sender, { queuedPerUrl: 8 });
      d.start();
      enqueue(d, ev('k1', 'agent:k', [URL_A]), ev('k2', 'agent:k', [URL_A]));
      await fake.until(() => gate.length === 1, 'k1 not sent');
      assert.deepEqual(sender.chains, [2]);
      d.cancelRegistrations([{ url: URL_A, event: 'AgentLog' }]);
      gate.shift()!();
      await fake.until(
        () => d.pending === 0,
        () => `pending ${d.pending}`,
      );
      assert.equal(deliveryOf('k1', URL_A).status, DeliveryStatus.cancelled);
      assert.equal(deliveryOf('k2', URL_A).status, DeliveryStatus.cancelled);
      assert.deepEqual(
        sender.calls.map((c) => c.eventId),
        ['k1'],
      );
      assert.equal((await metrics.deliveriesCancelled.get()).values[0]?.value, 2);
    },
  );

  void it(
    'requeued() after the store requeues dead letters: sent again at once with the same ids, ' +
      'paged from below what was buffered, none sent twice',
    async () => {
      let failing = true;
      const sender = new FakeSender((call) => (failing && call.eventId.startsWith('r') ? badRequest() : delivered()));
      // A small buffer, so the requeued rows lie below ids the window paged already.
      const d = make(sender, { maxBufferedPerUrl: 4 });
      d.start();
      enqueue(d, ev('r1', 'agent:r1', [URL_A]), ev('r2', 'agent:r2', [URL_A]), ev('r3', 'agent:r3', [URL_B]));
      await fake.until(() => outbox.counts().pending === 0, 'r1..r3 not finished');
      assert.equal(outbox.counts().dead, 3);
      // Later deliveries of URL_A are buffered and in flight while the retry comes in.
      const gate: Array<() => void> = [];
      failing = false;
      sender.script = async (call) => {
        if (call.eventId.startsWith('n')) await new Promise<void>((r) => gate.push(r));
        return delivered();
      };
      enqueue(d, ...Array.from({ length: 6 }, (_, i) => ev(`n${i}`, `agent:n${i}`, [URL_A])));
      await fake.until(() => gate.length === 1, 'n0 not sent');
      const ids = ['r1', 'r2'].map((e) => deliveryOf(e, URL_A).id);
      const r = outbox.deliveries.requeue({ url: URL_A, states: ['dead'] });
      assert.equal(r.total, 2);
      assert.deepEqual(r.byUrl.get(URL_A), { n: 2, minId: Math.min(...ids) });
      d.requeued(r.byUrl);
      while (gate.length > 0 || d.pending > 0) {
        gate.shift()?.();
        await fake.until(
          () => gate.length > 0 || d.pending === 0,
          () => `pending ${d.pending}`,
        );
      }
      const toA = sender.to(URL_A).map((c) => c.eventId);
      assert.deepEqual(toA.filter((e) => e === 'r1' || e === 'r2').sort(), ['r1', 'r1', 'r2', 'r2']);
      assert.equal(new Set(toA.filter((e) => e.startsWith('n'))).size, 6);
      assert.equal(toA.filter((e) => e.startsWith('n')).length, 6, 'a buffered delivery was paged in again');
      for (const [e, id] of [
        ['r1', ids[0]],
        ['r2', ids[1]],
      ] as const) {
        const row = deliveryOf(e, URL_A);
        assert.equal(row.id, id, 'same delivery id');
        assert.equal(row.status, DeliveryStatus.delivered);
        assert.equal(row.attempts, 1, 'a fresh retry budget: counted from 0 again');
      }
      assert.equal(deliveryOf('r3', URL_B).status, DeliveryStatus.dead, 'another URL is not retried');
    },
  );

  void it("discard(url): the URL's backlog leaves memory and the store (kept as cancelled); others go on", async () => {
    const gate: Array<() => void> = [];
    const sender = new FakeSender(async (call) => {
      if (call.url === URL_A) await new Promise<void>((r) => gate.push(r));
      return delivered();
    });
    const d = make(sender);
    d.start();
    enqueue(d, ev('x1', 'agent:x', [URL_A, URL_B]), ev('x2', 'agent:x', [URL_A]), ev('y1', 'agent:y', [URL_A]));
    await fake.until(() => gate.length === 1, 'x1 not sent');
    assert.equal(d.discard(URL_A), 2, 'the one in flight is left to finish');
    gate.shift()!();
    await fake.until(
      () => d.pending === 0,
      () => `pending ${d.pending}`,
    );
    assert.deepEqual(
      sender.to(URL_A).map((c) => c.eventId),
      ['x1'],
    );
    assert.equal(deliveryOf('x2', URL_A).status, DeliveryStatus.cancelled);
    assert.equal(deliveryOf('y1', URL_A).status, DeliveryStatus.cancelled);
    assert.equal(deliveryOf('x1', URL_B).status, DeliveryStatus.delivered);
    const log = logs.find((l) => l.code === 'UCW_WARN_DELIVERY_CANCELLED');
    assert.equal(log?.msg, 'backlog discarded by the operator: pending deliveries cancelled (kept in the outbox)');
    assert.equal(d.discard(URL_A), 0);
  });

  void it('resume(url) ends a 410 pause at once: the saved pause is cleared and the backlog is sent', async () => {
    let goneNow = true;
    const sender = new FakeSender(() => (goneNow ? gone() : delivered()));
    const d = make(sender, { gonePauseMs: 3_600_000 });
    const started = fake.now();
    d.start();
    enqueue(d, ev('p1', 'agent:p', [URL_A]), ev('p2', 'agent:q', [URL_A]));
    await fake.until(() => d.pausedUrls.length === 1, 'not paused');
    assert.equal(await pausedGauge(), 1);
    assert.ok(outbox.getMeta(GONE_PAUSES_META_KEY)?.includes(URL_A));
    goneNow = false;
    assert.equal(d.resume(URL_A), 'paused');
    await fake.until(
      () => d.pending === 0,
      () => `pending ${d.pending}`,
    );
    assert.equal(await pausedGauge(), 0);
    assert.equal(outbox.getMeta(GONE_PAUSES_META_KEY), '{}');
    assert.ok(fake.now() - started < 3_600_000, 'sent before the pause would have ended');
    assert.equal(d.resume(URL_A), 'healthy');
    assert.equal(d.resume('http://never-seen.test/'), 'healthy');
  });

  void describe('long spans of time', () => {
    /** Moves the mocked clock `ms` forward in `steps`, letting the work due at each step run. */
    const advance = async (t: TestContext, ms: number, steps = 1): Promise<void> => {
      for (let i = 0; i < steps; i++) {
        t.mock.timers.tick(ms / steps);
        await flush();
      }
    };
    const HOUR = 3_600_000;
    /** Counts the timers set from now on (a timer that fires early is set again); restored after the test. */
    const countTimers = (t: TestContext): { n: number } => {
      const count = { n: 0 };
      const real = globalThis.setTimeout;
      t.after(() => void (globalThis.setTimeout = real));
      const counting = (...args: Parameters<typeof setTimeout>): ReturnType<typeof setTimeout> => {
        count.n++;
        return real(...args);
      };
      globalThis.setTimeout = counting as typeof setTimeout;
      return count;
    };
    /** The system clock (safe-timer semantics) under node:test mock timers, for the tests of long timers. */
    const useSystemClock = (t: TestContext): void => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.UTC(2026, 2, 2, 15, 0, 0) });
      clock = systemClock;
    };

    void it('410 answers spend neither --max-attempts nor --max-age-ms; a 5xx after the pause is retried', async () => {
      // A 1 h pause, answered 410 four times (3 h), then 500, then 200; the budget is 3 attempts in 1 min.
      const policy: RetryPolicy = {
        maxAttempts: 3,
        maxAgeMs: 60_000,
        baseDelayMs: 1_000,
        maxDelayMs: 2_000,
        maxRetryAfterMs: 60_000,
      };
      const sender = new FakeSender((_call, nth) => (nth <= 4 ? gone() : nth === 5 ? serverError() : delivered()));
      const d = make(sender, { policy, gonePauseMs: HOUR });
      d.start();
      enqueue(d, ev('g1', 'agent:g', [URL_A]));
      await flush();
      for (let pause = 1; pause <= 4; pause++) await fake.advance(HOUR);
      assert.equal(sender.calls.length, 5, 'the first call, three probes that got 410, one that got 500');
      assert.equal(
        deliveryOf('g1', URL_A).status,
        DeliveryStatus.pending,
        'dead-lettered on its first 5xx after the pause',
      );
      await fake.advance(2_000);
      assert.equal(sender.calls.length, 6);
      assert.equal(deliveryOf('g1', URL_A).status, DeliveryStatus.delivered);
      assert.equal(outbox.counts().dead, 0);
    });

    void it('time paused does not count against --max-age-ms of a delivery that failed before the pause', async () => {
      // k1 gets a 500 (its first attempt), then k0's 410 pauses the URL for 2 h; after it, k1 gets another 500.
      const policy: RetryPolicy = {
        maxAttempts: 10,
        maxAgeMs: 60_000,
        baseDelayMs: 1_000,
        maxDelayMs: 1_000,
        maxRetryAfterMs: 60_000,
      };
      const sender = new FakeSender((call, nth) =>
        call.eventId === 'k1' && nth <= 4 ? serverError() : nth === 2 ? gone() : delivered(),
      );
      const d = make(sender, { policy, gonePauseMs: 2 * HOUR });
      d.start();
      enqueue(d, ev('k1', 'agent:k1', [URL_A]));
      await flush();
      enqueue(d, ev('k0', 'agent:k0', [URL_A]));
      await flush();
      assert.deepEqual(
        sender.calls.map((c) => c.eventId),
        ['k1', 'k0'],
      );
      await fake.advance(2 * HOUR);
      await fake.advance(2_000);
      assert.equal(outbox.counts().dead, 0, 'the 2 h pause ate the 1 min age budget of k1');
      assert.equal(deliveryOf('k1', URL_A).status, DeliveryStatus.delivered);
    });

    void it(
      'the age budget a 410 pause did not spend survives a ' + 'restart: a 5xx after it is retried, not dead-lettered',
      async () => {
        // k1 gets a 500 (its first attempt), then k0's 410 pauses the URL for 30 h (max age 24 h). The
        // probe gets 200, k1 another 500; then a restart, and k1 a third 500.
        const policy: RetryPolicy = {
          maxAttempts: 10,
          maxAgeMs: 24 * HOUR,
          baseDelayMs: 1_000,
          maxDelayMs: 1_000,
          maxRetryAfterMs: 60_000,
        };
        const sender = new FakeSender((call, nth) =>
          call.eventId === 'k1' && nth <= 5 ? serverError() : nth === 2 ? gone() : delivered(),
        );
        const d = make(sender, { policy, gonePauseMs: 30 * HOUR });
        d.start();
        enqueue(d, ev('k1', 'agent:k1', [URL_A]));
        await flush();
        enqueue(d, ev('k0', 'agent:k0', [URL_A]));
        await flush();
        await fake.advance(30 * HOUR);
        assert.deepEqual(
          sender.calls.map((c) => c.eventId),
          ['k1', 'k0', 'k0', 'k1'],
        );
        await stop(d, 1_000);

        const d2 = make(sender, { policy, gonePauseMs: 30 * HOUR });
        d2.start();
        await fake.advance(2_000);
        assert.equal(outbox.counts().dead, 0, 'the 30 h pause ate the 24 h age budget of k1 after the restart');
        assert.deepEqual(
          sender.calls.map((c) => c.eventId),
          ['k1', 'k0', 'k0', 'k1', 'k1', 'k1'],
        );
        assert.equal(deliveryOf('k1', URL_A).status, DeliveryStatus.delivered);
      },
    );

    void it(
      'cancelRegistrations drops a key head waiting for its retry: the ' +
        "survivor of the key goes at once, not at the head's retry time",
      async () => {
        // The head's retry is 5-10 min away; the next delivery of its key is another event's.
        const policy: RetryPolicy = {
          maxAttempts: 10,
          maxAgeMs: 24 * HOUR,
          baseDelayMs: 600_000,
          maxDelayMs: 600_000,
          maxRetryAfterMs: 60_000,
        };
        const sender = new FakeSender((call) => (call.eventId === 'h1' ? serverError() : delivered()));
        const d = make(sender, { policy });
        d.start();
        enqueue(d, ev('h1', 'agent:h', [URL_A]));
        await flush();
        enqueue(d, { ...ev('s1', 'agent:h', [URL_A]), name: 'AgentBreak' as const });
        await flush();
        assert.deepEqual(
          sender.calls.map((c) => c.eventId),
          ['h1'],
        );
        d.cancelRegistrations([{ url: URL_A, event: 'AgentLog' }]);
        await fake.advance(1_000);
        assert.deepEqual(
          sender.calls.map((c) => c.eventId),
          ['h1', 's1'],
          "the survivor waited for the dropped head's retry time",
        );
        assert.equal(deliveryOf('h1', URL_A).status, DeliveryStatus.cancelled);
        assert.equal(deliveryOf('s1', URL_A).status, DeliveryStatus.delivered);
        await fake.advance(600_000);
        assert.equal(sender.calls.length, 2, "the dropped head's retry timer still fired");
      },
    );

    void it('a 30-day 410 pause does not fire early', async (t) => {
      useSystemClock(t);
      const DAY = 24 * HOUR;
      const sender = new FakeSender((_call, nth) => (nth === 1 ? gone() : delivered()));
      const d = make(sender, { gonePauseMs: 30 * DAY });
      d.start();
      enqueue(d, ev('m1', 'agent:m', [URL_A]));
      await flush();
      const timers = countTimers(t);
      await advance(t, 29 * DAY, 29);
      assert.equal(sender.calls.length, 1, 'probed before the 30 days were over');
      assert.equal(logs.filter((l) => l.msg.startsWith('410 Gone pause over')).length, 0, 'the pause ended early');
      assert.ok(timers.n <= 1, `${timers.n} timers set in 29 days`);
      await advance(t, DAY, 2);
      assert.equal(sender.calls.length, 2);
      assert.equal(deliveryOf('m1', URL_A).status, DeliveryStatus.delivered);
    });

    void it('a Retry-After of 2^31 ms does not loop: the URL is tried again only after it', async (t) => {
      useSystemClock(t);
      const asked = 2 ** 31;
      const policy: RetryPolicy = {
        maxAttempts: 10,
        maxAgeMs: 4 * asked,
        baseDelayMs: 1_000,
        maxDelayMs: 2_000,
        maxRetryAfterMs: 2 * asked,
      };
      const later = (): AttemptOutcome => ({ ...serverError(), status: 503, retryAfterMs: asked }) as AttemptOutcome;
      const sender = new FakeSender((_call, nth) => (nth === 1 ? later() : delivered()));
      const d = make(sender, { policy });
      d.start();
      enqueue(d, ev('r1', 'agent:r', [URL_A]));
      await flush();
      const timers = countTimers(t);
      await advance(t, 1_000, 10);
      assert.equal(sender.calls.length, 1, 'retried long before the Retry-After');
      assert.equal(timers.n, 0, 'the retry timer fired early and was set again');
      await advance(t, asked - 1_000, 2);
      assert.equal(sender.calls.length, 2);
    });
  });

  void describe('the flow window holds reading back while every URL is behind', () => {
    /** A sender whose answers the test gives, one call at a time. */
    const manualSender = (): { sender: Sender; answers: Array<(o: AttemptOutcome) => void> } => {
      const answers: Array<(o: AttemptOutcome) => void> = [];
      return { sender: inOrder(() => new Promise<AttemptOutcome>((resolve) => answers.push(resolve))), answers };
    };
    const settled = (p: Promise<void>): { done: boolean } => {
      const state = { done: false };
      void p.then(() => (state.done = true));
      return state;
    };
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

    void it(
      'waits while the window is nearly full, goes on once two ' +
        'pages of room are free; a URL with room goes on at once',
      async () => {
        // maxBuffered 8: pages of 2, so reading stops at 6 buffered and goes on below 4.
        const { sender, answers } = manualSender();
        const d = make(sender, { maxBufferedPerUrl: 8 });
        d.start();
        enqueue(d, ...Array.from({ length: 5 }, (_, i) => ev(`w${i}`, `agent:${i}`, [URL_A])));
        assert.equal(win(d).roomFor(new Set([URL_A])), undefined, '5 of 8 buffered: room');
        enqueue(d, ev('w5', 'agent:5', [URL_A]));
        const wait = win(d).roomFor(new Set([URL_A]));
        assert.ok(wait, '6 of 8 buffered: the source waits');
        assert.equal(win(d).roomFor(new Set([URL_A, URL_B])), undefined, 'URL B holds nothing: reading on is useful');
        const state = settled(wait);
        await fake.until(() => answers.length === 1, 'no attempt');
        for (let buffered = 6; buffered > 4; buffered--) {
          answers.shift()!(delivered());
          await fake.until(() => answers.length === 1 || outbox.counts().pending === 0, 'no next attempt');
          await tick();
          assert.equal(state.done, false, `still waiting with ${buffered - 1} buffered`);
        }
        answers.shift()!(delivered());
        await fake.until(() => state.done, 'the source was not let go at 3 buffered');
        assert.equal(win(d).roomFor(new Set([URL_A])), undefined);
      },
    );

    void it('deliveries waiting in the store count as behind until they are read back', async () => {
      const { sender, answers } = manualSender();
      const d = make(sender, { maxBufferedPerUrl: 8 });
      d.start();
      // 12 events for 8 places: 4 wait in the store.
      enqueue(d, ...Array.from({ length: 12 }, (_, i) => ev(`s${i}`, `agent:${i}`, [URL_A])));
      const wait = win(d).roomFor(new Set([URL_A]));
      assert.ok(wait);
      const state = settled(wait);
      let answered = 0;
      while (!state.done && answered < 12) {
        await fake.until(() => answers.length > 0, 'no attempt');
        answers.shift()!(delivered());
        answered++;
        await tick();
      }
      // The store is read back in pages as room frees up; only then, with room in memory, does reading go on.
      assert.ok(answered >= 9, `let go after ${answered} deliveries, with deliveries still in the store`);
      assert.ok(state.done, 'never let go');
    });

    void it('a failing URL never holds the source back: its backlog goes to the outbox', async () => {
      const policy: RetryPolicy = {
        maxAttempts: 1_000,
        maxAgeMs: 60_000,
        baseDelayMs: 5_000,
        maxDelayMs: 10_000,
        maxRetryAfterMs: 1_000,
      };
      const { sender, answers } = manualSender();
      const d = make(sender, { maxBufferedPerUrl: 8, concurrencyPerUrl: 8, policy });
      d.start();
      enqueue(d, ...Array.from({ length: 7 }, (_, i) => ev(`f${i}`, `agent:${i}`, [URL_A])));
      const wait = win(d).roomFor(new Set([URL_A]));
      assert.ok(wait);
      const state = settled(wait);
      await fake.until(
        () => answers.length === 7,
        () => `${answers.length} attempts`,
      );
      for (const answer of answers.splice(0, 5)) answer(serverError());
      await fake.until(() => state.done, 'marking the URL failing did not let the source go');
      assert.equal(win(d).roomFor(new Set([URL_A])), undefined, 'failing: reading goes on');
    });

    void it('release() and stop() let a waiting source go, and it is not held back again', async () => {
      const { sender } = manualSender();
      const d = make(sender, { maxBufferedPerUrl: 4 });
      d.start();
      enqueue(d, ...Array.from({ length: 4 }, (_, i) => ev(`r${i}`, `agent:${i}`, [URL_A])));
      const wait = win(d).roomFor(new Set([URL_A]));
      assert.ok(wait);
      win(d).release();
      await wait;
      assert.equal(win(d).roomFor(new Set([URL_A])), undefined);

      const d2 = make(sender, { maxBufferedPerUrl: 4 });
      d2.start();
      const wait2 = win(d2).roomFor(new Set([URL_A]));
      assert.ok(wait2, 'the store still holds four pending deliveries of URL A');
      void d2.stop(10);
      await wait2;
      assert.equal(win(d2).roomFor(new Set([URL_A])), undefined);
    });
  });
});
