// Schedules deliveries from the outbox: per URL, events with the same order key go strictly one after
// another in enqueue (= commit) order, while different keys and different URLs proceed in parallel up
// to a per-URL concurrency limit. The outbox is the truth; this module only keeps ids in memory and
// records every outcome there before moving a key on.

import type { Logger } from '../logger.js';
import { safeUrl } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Outbox, PendingRef } from '../outbox/outbox.js';
import { DeliveryStatus } from '../outbox/outbox.js';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import type { AttemptOutcome, BodyFormat, DeliveryAttempt } from './types.js';

export interface Sender {
  send(attempt: DeliveryAttempt): Promise<AttemptOutcome>;
}

export interface DispatcherOptions {
  readonly outbox: Outbox;
  readonly sender: Sender;
  readonly policy: RetryPolicy;
  readonly concurrencyPerUrl: number;
  readonly bodyFormatFor: (url: string) => BodyFormat;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface KeyQueue {
  readonly ids: number[];
  /** Head is in flight or waiting for its retry time. */
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface Endpoint {
  readonly url: string;
  readonly keys: Map<string, KeyQueue>;
  /** Keys whose head can be attempted now, FIFO. */
  readonly ready: string[];
  inFlight: number;
}

export class Dispatcher {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;
  private pendingCount = 0;
  private stopping = false;

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads every pending delivery of the outbox (start-up) and starts sending. */
  start(): void {
    let n = 0;
    for (const ref of this.opts.outbox.pending()) {
      this.add(ref);
      n++;
    }
    this.opts.metrics.outboxDead.set(this.opts.outbox.counts().dead);
    this.opts.logger.info({ pending: n }, 'dispatcher started');
    for (const ep of this.endpoints.values()) this.pump(ep);
  }

  /** New deliveries just committed to the outbox. */
  enqueue(refs: readonly PendingRef[]): void {
    const touched = new Set<Endpoint>();
    for (const ref of refs) touched.add(this.add(ref));
    for (const ep of touched) this.pump(ep);
  }

  get pending(): number {
    return this.pendingCount;
  }

  /** Stops starting attempts; waits up to `graceMs` for those in flight (the rest stay pending). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const ep of this.endpoints.values()) for (const kq of ep.keys.values()) if (kq.timer) clearTimeout(kq.timer);
    const all = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private add(ref: PendingRef): Endpoint {
    let ep = this.endpoints.get(ref.url);
    if (!ep) {
      ep = { url: ref.url, keys: new Map(), ready: [], inFlight: 0 };
      this.endpoints.set(ref.url, ep);
    }
    let kq = ep.keys.get(ref.orderKey);
    if (!kq) {
      kq = { ids: [], busy: false, timer: undefined };
      ep.keys.set(ref.orderKey, kq);
    }
    kq.ids.push(ref.id);
    this.pendingCount++;
    this.opts.metrics.outboxPending.set(this.pendingCount);
    if (!kq.busy && kq.ids.length === 1) ep.ready.push(ref.orderKey);
    return ep;
  }

  private pump(ep: Endpoint): void {
    while (!this.stopping && ep.inFlight < this.opts.concurrencyPerUrl && ep.ready.length > 0) {
      const key = ep.ready.shift()!;
      const kq = ep.keys.get(key);
      const id = kq?.ids[0];
      if (!kq || kq.busy || id === undefined) continue;
      kq.busy = true;
      ep.inFlight++;
      const p = this.attempt(ep, key, kq, id)
        .catch((err: unknown) => {
          // The outbox failed under us (disk full, closed): leave the delivery pending for next start.
          this.opts.logger.error({ err, deliveryId: id }, 'delivery bookkeeping failed; will retry');
          this.retryLater(ep, key, kq, this.now() + 1000);
        })
        .finally(() => {
          ep.inFlight--;
          this.inFlight.delete(p);
          this.pump(ep);
        });
      this.inFlight.add(p);
    }
  }

  private async attempt(ep: Endpoint, key: string, kq: KeyQueue, id: number): Promise<void> {
    const { outbox, sender, metrics, logger } = this.opts;
    const row = outbox.delivery(id);
    if (!row || row.status !== DeliveryStatus.pending) {
      this.advance(ep, key, kq);
      return;
    }
    const startedAt = this.now();
    if (row.nextAttemptAtMs > startedAt) {
      this.retryLater(ep, key, kq, row.nextAttemptAtMs);
      return;
    }
    const outcome = await sender.send({
      url: row.url,
      eventId: row.eventId,
      eventName: row.eventName,
      occurredAtMs: row.occurredAtMs,
      body: row.body,
      bodyFormat: this.opts.bodyFormatFor(row.url),
      attempt: row.attempts + 1,
    });
    const attempts = row.attempts + 1;
    const log = { deliveryId: id, eventId: row.eventId, event: row.eventName, url: safeUrl(row.url), attempt: attempts };
    if (outcome.kind === 'delivered') {
      outbox.markDelivered(id, outcome.status, startedAt);
      metrics.observeDeliveryAttempt('delivered', outcome.durationMs);
      logger.debug({ ...log, status: outcome.status, body: row.body }, 'delivered');
      this.advance(ep, key, kq);
      return;
    }
    const status = outcome.status ?? null;
    if (outcome.kind === 'retry') {
      const decision = nextAttemptAt({
        policy: this.opts.policy,
        attempt: attempts,
        firstAttemptAtMs: row.firstAttemptAtMs ?? startedAt,
        nowMs: this.now(),
        retryAfterMs: outcome.retryAfterMs,
      });
      if (decision.kind === 'retry') {
        outbox.markRetry(id, decision.atMs, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt);
        metrics.observeDeliveryAttempt('retry', outcome.durationMs);
        logger.warn({ ...log, status, code: outcome.error.code, error: outcome.error.message, retryInMs: decision.atMs - this.now() }, 'delivery failed; will retry');
        this.retryLater(ep, key, kq, decision.atMs);
        return;
      }
      const reason = `UCW_ERR_DELIVERY_EXHAUSTED: retry budget spent (${decision.reason}); last error ${outcome.error.code}: ${outcome.error.message}`;
      this.deadLetter(id, status, reason, startedAt, outcome.durationMs, log);
    } else {
      this.deadLetter(id, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt, outcome.durationMs, log);
    }
    this.advance(ep, key, kq);
  }

  private deadLetter(id: number, status: number | null, reason: string, startedAt: number, durationMs: number, log: Record<string, unknown>): void {
    this.opts.outbox.markDead(id, status, reason, startedAt);
    this.opts.metrics.observeDeliveryAttempt('dead', durationMs);
    this.opts.metrics.outboxDead.inc();
    this.opts.logger.error({ ...log, status, code: reason.split(':')[0], error: reason }, 'delivery dead-lettered (kept in the outbox)');
  }

  /** The head is finished (delivered, dead, or gone): the key moves to its next delivery. */
  private advance(ep: Endpoint, key: string, kq: KeyQueue): void {
    kq.ids.shift();
    kq.busy = false;
    this.pendingCount--;
    this.opts.metrics.outboxPending.set(this.pendingCount);
    if (kq.ids.length > 0) ep.ready.push(key);
    else ep.keys.delete(key);
  }

  /** The head stays at the front of its key (order), and becomes ready again at `atMs`. */
  private retryLater(ep: Endpoint, key: string, kq: KeyQueue, atMs: number): void {
    kq.busy = true;
    if (this.stopping) return;
    kq.timer = setTimeout(() => {
      kq.timer = undefined;
      kq.busy = false;
      ep.ready.push(key);
      this.pump(ep);
    }, Math.max(0, atMs - this.now()));
    kq.timer.unref();
  }
}
