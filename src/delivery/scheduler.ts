// Schedules deliveries from the state store: per URL, events with the same order key go strictly one
// after another in commit order, different keys and URLs in parallel up to a per-URL limit. Each URL
// may have its own settings (a receivers entry: concurrency, retry budget, rate limit). This file
// only coordinates: key queues (key-queues.ts), the flow window that buffers, pages and gates reading
// (flow-window.ts), URL health (url-health.ts, carried out by url-health-effects.ts), outcomes
// (outcomes.ts), a rate-limited URL's pace (rate-limit.ts) and the sender (sender.ts).
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
import { Pacer } from './rate-limit.js';
import type { RetryPolicy } from './retry-policy.js';
import type { OutcomeCallback, Sender } from './sender.js';
import type { BodyFormat, DeliveryAttempt } from './types.js';
import { UrlHealth, type HealthAction, type UrlMode } from './url-health.js';
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
  /** A URL's own settings (its receivers entry), asked once per URL; unset fields use the options above. */
  readonly endpointSettingsFor?: (url: string) => EndpointSettings;
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

/** What a receivers entry sets for the scheduler. */
export interface EndpointSettings {
  readonly bodyFormat?: BodyFormat | undefined;
  readonly concurrency?: number | undefined;
  readonly maxAttempts?: number | undefined;
  readonly maxAgeMs?: number | undefined;
  /** Requests per second at most (paced 1/rate apart); undefined: no limit. */
  readonly rateLimitPerSecond?: number | undefined;
}

/** A rate-limited URL's pacer and the timer that wakes the URL when the pacer has room again. */
interface RateGate {
  readonly pacer: Pacer;
  timer: SafeTimer | undefined;
}

interface Endpoint {
  readonly url: string;
  readonly bodyFormat: BodyFormat;
  readonly queues: KeyQueues;
  readonly win: UrlWindow;
  readonly health: UrlHealth;
  /** Attempts handed to the sender at once: running plus waiting there for a connection. */
  readonly maxInFlight: number;
  readonly policy: RetryPolicy;
  /** Undefined: not rate-limited. */
  readonly rate: RateGate | undefined;
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
  /** Attempts queued in the sender per connection beyond those running. */
  private readonly queuedPerConnection: number;
  /** Attempts handed to the sender at once, all URLs together (each URL also has its own maxInFlight). */
  private readonly maxInFlightTotal: number;

  constructor(private readonly opts: DeliverySchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.queuedPerConnection = Math.max(0, opts.queuedPerUrl ?? 0) / opts.concurrencyPerUrl;
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
    metrics.countRateLimitWaitWith(() =>
      [...this.endpoints.values()]
        .filter((ep) => ep.rate)
        .map((ep) => [ep.url, this.rateLimitedWaitMs(ep.url)] as const),
    );
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

  /**
   * Milliseconds during which deliveries of `url` were held back by its rate limit so far (0: not
   * rate-limited, or never behind it): grows as fast as the clock while its backlog waits for the
   * rate. For `status` and the metrics.
   */
  rateLimitedWaitMs(url: string): number {
    return this.endpoints.get(url)?.rate?.pacer.heldMs(this.clock.now()) ?? 0;
  }

  /** URLs currently paused after a 410 Gone (including those being probed). */
  get pausedUrls(): string[] {
    return [...this.endpoints.values()].filter((ep) => ep.health.mode === 'paused').map((ep) => ep.url);
  }

  /** Each URL's live state for `status`: attempts in flight, its health and the end of its wait. */
  urlStates(): Array<{ url: string; inFlight: number; mode: UrlMode; untilMs?: number; rateLimitedWaitMs?: number }> {
    return [...this.endpoints.values()].map((ep) => ({
      url: ep.url,
      inFlight: ep.inFlight,
      mode: ep.health.mode,
      ...(ep.health.mode === 'healthy' ? {} : { untilMs: ep.health.untilMs }),
      ...(ep.rate ? { rateLimitedWaitMs: this.rateLimitedWaitMs(ep.url) } : {}),
    }));
  }

  /**
   * Per URL with pending deliveries, the binlog commit time of the oldest: the earliest head of its
   * buffered keys (buffered deliveries are the oldest of a URL's pending ones, flow-window.ts), or,
   * with none buffered, one index lookup in the store. For the scrape of ucw_oldest_pending_age_seconds.
   */
  oldestPending(): Map<string, number> {
    const oldest = new Map<string, number>();
    for (const ep of this.endpoints.values()) {
      if (ep.win.pending === 0) continue;
      let min = Infinity;
      for (const kq of ep.queues.keys.values()) {
        const head = kq.items[0];
        if (head !== undefined && head.committedAtMs < min) min = head.committedAtMs;
      }
      const at = min === Infinity ? this.opts.outbox.oldestPendingCommit(ep.url) : min;
      if (at !== undefined) oldest.set(ep.url, at);
    }
    return oldest;
  }

  /**
   * Registrations removed by the transaction about to be committed: the pending deliveries of each
   * (url, event) are cancelled (kept in the store). Those in flight finish; cancelled unless delivered.
   */
  cancelRegistrations(removed: ReadonlyArray<{ readonly url: string; readonly event: string }>): void {
    const byUrl = new Map<string, string[]>();
    for (const r of removed) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r.event]);
    for (const [url, events] of byUrl) {
      this.cancel(url, events, 'registration removed before delivery', (n, inFlight) =>
        this.opts.logger.warn(
          { url: safeUrl(url), code: CANCELLED, events, cancelled: n, inFlight },
          'registration removed or its URL changed: pending deliveries cancelled (kept in the outbox)',
        ),
      );
    }
  }

  /**
   * The operator drops the pending backlog of `url` (of `events`, or all) on purpose: cancelled and
   * kept, as for a removed registration. Returns how many.
   */
  discard(url: string, events?: readonly string[]): number {
    const n = this.cancel(url, events, 'discarded by the operator', (cancelled, inFlight) =>
      this.opts.logger.warn(
        { url: safeUrl(url), code: CANCELLED, events, cancelled, inFlight },
        'backlog discarded by the operator: pending deliveries cancelled (kept in the outbox)',
      ),
    );
    return n;
  }

  /**
   * Deliveries the operator put back to pending in the store (`deliveries retry`), per URL with the
   * lowest id: paged in again from there and sent, without a restart.
   */
  requeued(byUrl: ReadonlyMap<string, { readonly n: number; readonly minId: number }>): void {
    for (const [url, r] of byUrl) {
      const ep = this.endpoint(url);
      this.opts.window.requeued(ep.win, r.n, r.minId);
      this.pump(ep);
    }
  }

  /** The operator resumes a failing or paused URL now; returns the state it was in. */
  resume(url: string): 'healthy' | 'failing' | 'paused' {
    const ep = this.endpoints.get(url);
    if (!ep) return 'healthy';
    const was = ep.health.mode;
    this.healthEffects.apply(ep, ep.health.resumeNow());
    // Deliveries held for the pause's end (or a retry time) go now: the operator says the receiver is back.
    ep.queues.dueBy(this.clock.now());
    this.opts.outbox.deliveries.makeDue(url);
    this.pump(ep);
    return was;
  }

  /** Cancels the pending deliveries of `url` (of `events`, or all) in memory and in the store. */
  private cancel(
    url: string,
    events: readonly string[] | undefined,
    why: string,
    log: (cancelled: number, inFlight: number) => void,
  ): number {
    const ep = this.endpoints.get(url);
    if (!ep || ep.win.pending === 0) return 0;
    const { removed, inFlight } = ep.queues.drop(events);
    const n = this.opts.outbox.cancelPending(url, events, inFlight, `${CANCELLED}: ${why}`);
    if (inFlight.length > 0) {
      ep.cancelOnFailure ??= new Set();
      for (const id of inFlight) ep.cancelOnFailure.add(id);
    }
    this.opts.window.cancelled(ep.win, removed, n);
    this.opts.metrics.deliveriesCancelled.inc(n);
    log(n, inFlight.length);
    this.pump(ep);
    return n;
  }

  /** Stops starting attempts; waits up to `graceMs` for those in flight (the rest stay pending). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.opts.window.release();
    this.opts.sender.cancelQueued();
    this.healthEffects.stop();
    for (const ep of this.endpoints.values()) {
      ep.queues.clearTimers();
      ep.rate?.timer?.clear();
    }
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
      const own = this.opts.endpointSettingsFor?.(url) ?? {};
      const concurrency = own.concurrency ?? this.opts.concurrencyPerUrl;
      const policy: RetryPolicy = {
        ...this.opts.policy,
        maxAttempts: own.maxAttempts ?? this.opts.policy.maxAttempts,
        maxAgeMs: own.maxAgeMs ?? this.opts.policy.maxAgeMs,
      };
      const rps = own.rateLimitPerSecond;
      const queues = new KeyQueues();
      ep = {
        url,
        bodyFormat: own.bodyFormat ?? this.opts.bodyFormatFor(url),
        maxInFlight: concurrency + Math.round(concurrency * this.queuedPerConnection),
        policy,
        rate: rps === undefined ? undefined : { pacer: new Pacer(rps), timer: undefined },
        queues,
        win: this.opts.window.open(url, queues),
        health: new UrlHealth(policy, this.opts.gonePauseMs),
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
    // A sender at least half full (the URL's or all URLs') starts the waiting deliveries as fast as
    // more rows would: the window pages less ahead of it (flow-window.ts, AHEAD_WHEN_BUSY).
    const busy = ep.inFlight * 2 >= ep.maxInFlight || this.attemptsInFlight * 2 >= this.maxInFlightTotal;
    this.opts.window.refill(ep.win, ep.queues, false, busy ? ep.inFlight : undefined);
    while (ep.inFlight < ep.maxInFlight) {
      if (this.attemptsInFlight >= this.maxInFlightTotal) {
        this.waitingForSlots.add(ep);
        break;
      }
      let chainMax = MAX_CHAIN;
      if (ep.rate) {
        // Rate-limited: only as many requests as start within the pacer's horizon; the rest wait (in
        // the buffer and the store, which the flow window keeps bounded) for its timer.
        chainMax = Math.min(MAX_CHAIN, ep.rate.pacer.room(this.clock.now()));
        if (chainMax === 0) {
          if (ep.queues.readyCount > 0) this.waitForRoom(ep, ep.rate);
          break;
        }
      }
      const kq = ep.queues.nextReady();
      if (!kq) break;
      this.launch(ep, kq, chainMax);
    }
  }

  /** Ready work of a rate-limited URL waits for the pacer's room: one timer pumps again then. */
  private waitForRoom(ep: Endpoint, rate: RateGate): void {
    if (rate.timer) return;
    rate.timer = this.clock.setTimeout(() => {
      rate.timer = undefined;
      this.pump(ep);
    }, rate.pacer.msUntilRoom(this.clock.now()));
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
    // Within the URL's own limit and the total of all URLs (a chain never takes more than the slots left).
    const room = Math.min(ep.maxInFlight - ep.inFlight, this.maxInFlightTotal - this.attemptsInFlight);
    const n = ep.queues.chainLength(kq, Math.min(chainMax, Math.max(1, room)), startedAt);
    const chain = kq.items.slice(0, n);
    kq.sent = n;
    ep.inFlight += n;
    this.attemptsInFlight += n;
    // A rate-limited URL's attempts (probes included) each get their start time from its pacer.
    const pacer = ep.rate?.pacer;
    const attempts = chain.map((d) => this.attemptOf(ep, d, pacer?.take(startedAt)));
    const onOutcome: OutcomeCallback = (i, outcome) => {
      const d = chain[i]!;
      const now = this.clock.now();
      // A chained attempt started when the one before it ended: its own duration tells when. A paced
      // one started no sooner than its time.
      const from = attempts[i]!.notBeforeMs ?? startedAt;
      const at = i === 0 || outcome.kind === 'unsent' ? from : Math.max(from, now - outcome.durationMs);
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
    this.opts.sender.sendInOrder(attempts, onOutcome);
  }

  private attemptOf(ep: Endpoint, d: Delivery, notBeforeMs: number | undefined): DeliveryAttempt {
    const { eventId, eventName, occurredAtMs, body } = d;
    const attempt = d.attempts + 1;
    const a: DeliveryAttempt = {
      url: ep.url,
      eventId,
      eventName,
      occurredAtMs,
      body,
      bodyFormat: ep.bodyFormat,
      attempt,
    };
    return notBeforeMs === undefined ? a : { ...a, notBeforeMs };
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
