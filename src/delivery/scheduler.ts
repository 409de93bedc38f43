// Schedules deliveries from the state store: per URL, events with the same order key go strictly one
// after another in commit order, different keys and URLs in parallel up to a per-URL limit. This file
// only coordinates: key queues (key-queues.ts), the flow window that buffers, pages and gates reading
// (flow-window.ts), URL health (url-health.ts, carried out by url-health-effects.ts), outcomes
// (outcomes.ts) and the sender (sender.ts).
// Invariant: a key moves on only once the store holds its head's outcome. Time comes from a Clock.

import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, StateStore, StagedCounts } from '../outbox/state-store.js';
import type { SafeTimer } from '../safe-timer.js';
import { safeUrl } from '../safe-url.js';
import { systemClock, type Clock } from './clock.js';
import type { FlowWindow, UrlWindow } from './flow-window.js';
import { isBusy, KeyQueues, type KeyQueue } from './key-queues.js';
import { CANCELLED, OutcomeRecorder } from './outcomes.js';
import { outboxPauseStore, type PauseStore } from './pause-store.js';
import type { RetryPolicy } from './retry-policy.js';
import type { OutcomeCallback, Sender } from './sender.js';
import type { BodyFormat, DeliveryAttempt } from './types.js';
import { UrlHealth, type HealthAction } from './url-health.js';
import { UrlHealthEffects } from './url-health-effects.js';

export interface DeliverySchedulerOptions {
  readonly outbox: StateStore;
  readonly sender: Sender;
  /** Buffers deliveries and pages them from the store; the gate on reading (shared with the source). */
  readonly window: FlowWindow;
  readonly policy: RetryPolicy;
  readonly concurrencyPerUrl: number;
  /** Attempts per URL handed to the sender beyond `concurrencyPerUrl`, started as connections free up. */
  readonly queuedPerUrl?: number;
  /** Attempts handed to the sender at once, all URLs together (default MAX_IN_FLIGHT_TOTAL). */
  readonly maxInFlightTotal?: number;
  readonly bodyFormatFor: (url: string) => BodyFormat;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** How long a URL that answered 410 Gone is paused before it is probed again (ms). */
  readonly gonePauseMs: number;
  /** Where 410 pauses are kept across restarts (default: the outbox's meta table). */
  readonly pauses?: PauseStore;
  readonly clock?: Clock;
}

/** Most deliveries of one key handed to the sender at once: a key's backlog moves at the receiver's pace. */
export const MAX_CHAIN = 16;
/**
 * Attempts in the sender's hands at once, all URLs together: the worker holds a copy of each (with
 * its request), so with many URLs the per-URL limit alone would let it hold every buffered delivery.
 */
export const MAX_IN_FLIGHT_TOTAL = 1_024;

interface Endpoint {
  readonly url: string;
  readonly bodyFormat: BodyFormat;
  readonly queues: KeyQueues;
  readonly win: UrlWindow;
  readonly health: UrlHealth;
  /** Ends the wait of a failing or paused URL. */
  waitTimer: SafeTimer | undefined;
  inFlight: number;
  /** Ids of deliveries in flight when their registration was removed: cancelled unless delivered. */
  cancelOnFailure: Set<number> | undefined;
}

export class DeliveryScheduler {
  private readonly endpoints = new Map<string, Endpoint>();
  /** URLs that stopped starting attempts at maxInFlightTotal: pumped again, in turn, as attempts end. */
  private readonly waitingForSlots = new Set<Endpoint>();
  /** Attempts handed to the sender and not settled yet, across URLs; stop() waits for them. */
  private attemptsInFlight = 0;
  private onIdle: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly healthEffects: UrlHealthEffects<Endpoint>;
  private readonly outcomes: OutcomeRecorder<Endpoint>;
  private stopping = false;
  /** Attempts per URL handed to the sender at once: running plus waiting there for a connection. */
  private readonly maxInFlight: number;
  private readonly maxInFlightTotal: number;

  constructor(private readonly opts: DeliverySchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.maxInFlight = opts.concurrencyPerUrl + Math.max(0, opts.queuedPerUrl ?? 0);
    this.maxInFlightTotal = Math.max(1, opts.maxInFlightTotal ?? MAX_IN_FLIGHT_TOTAL);
    const { outbox, policy, metrics, logger, sender, window } = opts;
    const pauses = opts.pauses ?? outboxPauseStore(outbox, logger);
    const probe = (ep: Endpoint): void => this.pump(ep);
    const effects = {
      clock: this.clock,
      sender,
      window,
      outbox,
      pauses,
      metrics,
      logger,
      subjects: this.endpoints,
      probe,
    };
    this.healthEffects = new UrlHealthEffects(effects);
    const onHealth = (ep: Endpoint, a: HealthAction, d: Delivery): void => this.healthEffects.apply(ep, a, d);
    this.outcomes = new OutcomeRecorder({ outbox, policy, metrics, logger, onHealth });
  }

  /** Picks up the pending deliveries of the store (start-up) and starts sending. */
  start(): void {
    const { outbox, metrics, window } = this.opts;
    const { pending, dead } = outbox.backlog();
    metrics.countPendingWith(() => window.pending);
    metrics.outboxDead.set(dead);
    window.restore(pending, outbox.pendingByUrl(), (uw) => this.endpoint(uw.url).queues);
    this.healthEffects.restore();
    this.opts.logger.info({ pending, urls: this.endpoints.size }, 'delivery scheduler started');
    for (const ep of this.endpoints.values()) this.pump(ep);
  }

  /** Deliveries just committed; `staged`: those of a large transaction stored in parts before them. */
  enqueue(created: readonly Delivery[], staged?: StagedCounts): void {
    const touched = new Set<Endpoint>();
    if (staged) {
      for (const [url, n] of staged) {
        const ep = this.endpoint(url);
        this.opts.window.staged(ep.win, n);
        touched.add(ep);
      }
    }
    for (const d of created) {
      const ep = this.endpoint(d.url);
      this.opts.window.committed(ep.win, d, ep.queues);
      touched.add(ep);
    }
    for (const ep of touched) this.pump(ep);
  }

  /** Pending deliveries, buffered or waiting in the store. */
  get pending(): number {
    return this.opts.window.pending;
  }

  /** URLs currently paused after a 410 Gone (including those being probed). */
  get pausedUrls(): string[] {
    return [...this.endpoints.values()].filter((ep) => ep.health.mode === 'paused').map((ep) => ep.url);
  }

  /**
   * Registrations removed by the transaction about to be committed: the pending deliveries of each
   * (url, event) are cancelled (kept in the store). Those in flight finish; cancelled unless delivered.
   */
  cancelRegistrations(removed: ReadonlyArray<{ readonly url: string; readonly event: string }>): void {
    const byUrl = new Map<string, string[]>();
    for (const r of removed) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r.event]);
    for (const [url, events] of byUrl) {
      const ep = this.endpoints.get(url);
      if (!ep || ep.win.pending === 0) continue;
      const { removed, inFlight } = ep.queues.drop(events);
      const reason = `${CANCELLED}: registration removed before delivery`;
      const n = this.opts.outbox.cancelPending(url, events, inFlight, reason);
      if (inFlight.length > 0) {
        ep.cancelOnFailure ??= new Set();
        for (const id of inFlight) ep.cancelOnFailure.add(id);
      }
      this.opts.window.cancelled(ep.win, removed, n);
      this.opts.metrics.deliveriesCancelled.inc(n);
      this.opts.logger.warn(
        { url: safeUrl(url), code: CANCELLED, events, cancelled: n, inFlight: inFlight.length },
        'registration removed or its URL changed: pending deliveries cancelled (kept in the outbox)',
      );
      this.pump(ep);
    }
  }

  /** Stops starting attempts; waits up to `graceMs` for those in flight (the rest stay pending). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.opts.window.release();
    this.opts.sender.cancelQueued();
    this.healthEffects.stop();
    for (const ep of this.endpoints.values()) ep.queues.clearTimers();
    if (this.attemptsInFlight === 0) return;
    let timer: SafeTimer | undefined;
    await new Promise<void>((resolve) => {
      this.onIdle = resolve;
      timer = this.clock.setTimeout(resolve, graceMs, true);
    });
    timer?.clear();
  }

  private endpoint(url: string): Endpoint {
    let ep = this.endpoints.get(url);
    if (!ep) {
      const queues = new KeyQueues();
      ep = {
        url,
        bodyFormat: this.opts.bodyFormatFor(url),
        queues,
        win: this.opts.window.open(url, queues),
        health: new UrlHealth(this.opts.policy, this.opts.gonePauseMs),
        waitTimer: undefined,
        inFlight: 0,
        cancelOnFailure: undefined,
      };
      this.endpoints.set(url, ep);
    }
    return ep;
  }

  private pump(ep: Endpoint): void {
    if (this.stopping) return;
    if (ep.health.stalled) {
      this.pumpProbe(ep);
      return;
    }
    this.opts.window.refill(ep.win, ep.queues);
    while (ep.inFlight < this.maxInFlight) {
      if (this.attemptsInFlight >= this.maxInFlightTotal) {
        this.waitingForSlots.add(ep);
        break;
      }
      const kq = ep.queues.nextReady();
      if (!kq) break;
      this.launch(ep, kq, MAX_CHAIN);
    }
  }

  /** URLs held back by maxInFlightTotal take free slots in turn (one that fills them waits again). */
  private pumpWaiting(): void {
    for (const ep of this.waitingForSlots) {
      if (this.attemptsInFlight >= this.maxInFlightTotal) return;
      this.waitingForSlots.delete(ep);
      this.pump(ep);
    }
  }

  /** A failing or paused URL: nothing until its wait is over, then exactly one request at a time. */
  private pumpProbe(ep: Endpoint): void {
    const { health, queues } = ep;
    if (!health.probing || ep.inFlight > 0) return;
    if (queues.keys.size === 0) this.opts.window.refill(ep.win, queues, true);
    const kq = queues.probeQueue(health.probeKey, health.mode === 'paused');
    if (!kq) {
      if (queues.keys.size === 0) {
        this.healthEffects.apply(ep, health.nothingToProbe());
        this.pump(ep);
      }
      // Otherwise every key waits for its own retry time; its timer pumps again.
      return;
    }
    health.probeKey = kq.key;
    // A busy probe key is in flight or waits for its retry time; its timer pumps again.
    if (!isBusy(kq) && kq.items.length > 0) this.launch(ep, kq, 1);
  }

  /**
   * Hands the sender the head of a key and up to `chainMax - 1` due deliveries after it. One callback
   * per attempt, no promise: the catch-up path allocates nothing per delivery beyond the attempt.
   */
  private launch(ep: Endpoint, kq: KeyQueue, chainMax: number): void {
    const startedAt = this.clock.now();
    if (kq.items[0]!.nextAttemptAtMs > startedAt) {
      this.retryLater(ep, kq, kq.items[0]!.nextAttemptAtMs);
      return;
    }
    const n = ep.queues.chainLength(kq, Math.min(chainMax, Math.max(1, this.maxInFlight - ep.inFlight)), startedAt);
    const chain = kq.items.slice(0, n);
    kq.sent = n;
    ep.inFlight += n;
    this.attemptsInFlight += n;
    const onOutcome: OutcomeCallback = (i, outcome) => {
      const d = chain[i]!;
      const now = this.clock.now();
      // A chained attempt started when the one before it ended: its own duration tells when.
      const at = i === 0 || outcome.kind === 'unsent' ? startedAt : Math.max(startedAt, now - outcome.durationMs);
      try {
        const settled = this.outcomes.record(ep, d, at, now, outcome);
        if (settled === 'finished') {
          if (ep.queues.finish(kq, d)) this.opts.window.finished(ep.win, d);
        } else if (settled !== 'stays') this.retryLater(ep, kq, settled);
      } catch (err) {
        // The store failed under us (disk full, closed): the delivery stays pending for the next try.
        this.opts.logger.error({ err, deliveryId: d.id }, 'delivery bookkeeping failed; will retry');
        this.retryLater(ep, kq, this.clock.now() + 1000);
      }
      ep.queues.release(kq);
      ep.inFlight--;
      if (--this.attemptsInFlight === 0) this.onIdle?.();
      // URLs held back at the total go first: the one whose attempt ended must not take every slot.
      this.pumpWaiting();
      this.pump(ep);
    };
    this.opts.sender.sendInOrder(
      chain.map((d) => this.attemptOf(ep, d)),
      onOutcome,
    );
  }

  private attemptOf(ep: Endpoint, d: Delivery): DeliveryAttempt {
    const { eventId, eventName, occurredAtMs, body } = d;
    return { url: ep.url, eventId, eventName, occurredAtMs, body, bodyFormat: ep.bodyFormat, attempt: d.attempts + 1 };
  }

  /** The head stays at the front of its key (order), and becomes ready again at `atMs`. */
  private retryLater(ep: Endpoint, kq: KeyQueue, atMs: number): void {
    kq.timer?.clear();
    kq.timer = undefined;
    if (this.stopping) return;
    kq.timer = this.clock.setTimeout(() => {
      if (ep.queues.retryDue(kq)) this.pump(ep);
    }, atMs - this.clock.now());
  }
}
