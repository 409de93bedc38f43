// Schedules deliveries from the outbox: per URL, events with the same order key go strictly one after
// another in enqueue (= commit) order, while different keys and different URLs proceed in parallel up
// to a per-URL concurrency limit. The outbox is the truth; every outcome is recorded there before a
// key moves on.
//
// Memory is bounded per URL: deliveries are carried in memory with everything an attempt needs (no
// store read per attempt), at most `maxHeldPerUrl` of them; the rest wait in the outbox and are
// loaded a page at a time, in id order, as the held ones drain. Ids only grow, so "held" is always a
// prefix of a URL's pending deliveries and loading `id > loadedUpTo` keeps commit order.
//
// A URL can be held as a whole:
// - 410 Gone pauses it for `gonePauseMs`: no request of any key goes to it meanwhile and its
//   deliveries stay pending. When the pause ends, one probe goes out (the head of the key that got
//   the 410), one at a time: a 2xx resumes the URL, another 410 pauses it again. Pauses are kept in
//   the outbox's meta table, so a restart does not hammer a gone receiver.
// - FAILURES_TO_HOLD retryable failures in a row (down, 5xx, timeouts, 429) hold it for a growing
//   delay, then one probe at a time until one gets an answer: a receiver that is down gets one
//   request per hold instead of every key's retries, and the backlog waits in the outbox.

import type { Logger } from '../logger.js';
import { safeUrl } from '../safe-url.js';
import { safeTimeout, type SafeTimer } from '../safe-timer.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, Outbox, StagedCounts } from '../outbox/outbox.js';
import { dropEvents } from './drop-events.js';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import type { AttemptOutcome, BodyFormat, DeliveryAttempt } from './types.js';

/** Called once per attempt of an in-order chain, in order: `index` into the attempts handed over. */
export type OutcomeCallback = (index: number, outcome: AttemptOutcome) => void;

export interface Sender {
  send(attempt: DeliveryAttempt): Promise<AttemptOutcome>;
  /**
   * Optional: sends deliveries of one order key strictly one after another in the given order, each
   * only once the one before it was delivered; after any other outcome (or a cancel) the rest are
   * answered `unsent` without a request. Must never throw once it has accepted the attempts.
   * With it, a key's backlog moves at the pace of the receiver, not of round trips through the
   * dispatcher's thread (busy for tens of ms at a time while a backlog is read).
   */
  sendInOrder?(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void;
  /**
   * For a sender that holds attempts back until a connection is free (see `queuedPerUrl`): answer
   * those not started yet (of `url`, or all) as `unsent`.
   */
  cancelQueued?(url?: string): void;
}

export interface DispatcherOptions {
  readonly outbox: Outbox;
  readonly sender: Sender;
  readonly policy: RetryPolicy;
  readonly concurrencyPerUrl: number;
  /**
   * Attempts per URL handed to the sender beyond `concurrencyPerUrl`, which it starts itself as its
   * connections free up (the WorkerSender does; default 0). They keep every connection busy while
   * this thread is busy reading a backlog.
   */
  readonly queuedPerUrl?: number;
  readonly bodyFormatFor: (url: string) => BodyFormat;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** How long a URL that answered 410 Gone is paused before it is probed again (ms). */
  readonly gonePauseMs: number;
  /** Most deliveries of one URL held in memory; the rest wait in the outbox. */
  readonly maxHeldPerUrl?: number;
  readonly now?: () => number;
}

/** Outbox meta key of the persisted pauses: JSON { [url]: { untilMs, probeKey } }. */
export const GONE_PAUSES_META_KEY = 'gone_pauses';

/**
 * With the source held back while receivers are behind (roomFor), the window need only keep the
 * sender busy: 10,000 rather than 20,000 gave 9 MB less at the 1M-backlog drain, catch-up no slower.
 */
export const DEFAULT_MAX_HELD_PER_URL = 10_000;
/** Log code of cancelled deliveries (a registration removed, a backlog discarded). */
const CANCELLED = 'UCW_WARN_DELIVERY_CANCELLED';
/** Deliveries read from the outbox per page. */
const PAGE_SIZE = 2_000;
/**
 * Fewest deliveries a page is read for (a quarter of a page, or of the memory bound when that is
 * smaller): with memory nearly full, every finished delivery made room for one, and a query per
 * delivery took up to a third of the dispatcher's thread at catch-up.
 */
const MIN_PAGE = PAGE_SIZE / 4;
/** A URL with store-only deliveries loads the next page when fewer keys than this are ready. */
const REFILL_BELOW_READY_KEYS = 256;
/**
 * Most deliveries of one key handed to a sender that keeps them in order (sendInOrder) at once.
 * An agent's events are a chain: with one at a time, each waited for a round trip through this
 * thread, and a catch-up of 200 agents' events ran at 200 / (that round trip) events/s.
 */
export const MAX_CHAIN = 16;
/** Retryable failures in a row, with no answer between, that hold the whole URL. */
export const FAILURES_TO_HOLD = 5;
/**
 * Longest hold of a failing URL between probes: one request per 10 s is no load on anyone, and a
 * receiver that comes back is noticed within 10 s.
 */
const FAILING_HOLD_MAX_MS = 10_000;

interface UrlHold {
  /** `gone`: answered 410 (persisted); `failing`: FAILURES_TO_HOLD retryable failures in a row. */
  readonly reason: 'gone' | 'failing';
  readonly untilMs: number;
  /** gone: the key whose head is the probe (the one that got the 410). */
  probeKey: string | undefined;
  /** The hold time is over: one probe at a time until it gets its answer. */
  probing: boolean;
  timer: SafeTimer | undefined;
  /** gone: when the URL was first paused (re-pauses keep it); time since then spends no age budget. */
  readonly sinceMs: number;
}

interface KeyQueue {
  readonly items: Delivery[];
  /** Deliveries from the head handed to the sender and not answered yet (a chain). */
  sent: number;
  /** The head's retry time. */
  timer: SafeTimer | undefined;
}

/** The key's head is in flight (with its chain) or waits for its retry time: not startable now. */
function isBusy(kq: KeyQueue): boolean {
  return kq.sent > 0 || kq.timer !== undefined;
}

/** FIFO of keys with O(1) shift (Array#shift copies large arrays). */
class KeyFifo {
  private items: Array<string | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  /** Removes every occurrence of `key` (probe bookkeeping only; linear). */
  remove(key: string): void {
    this.items = this.items.slice(this.head).filter((k) => k !== key);
    this.head = 0;
  }

  find(pred: (key: string) => boolean): string | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const k = this.items[i];
      if (k !== undefined && pred(k)) return k;
    }
    return undefined;
  }
}

interface Endpoint {
  readonly url: string;
  readonly bodyFormat: BodyFormat;
  readonly keys: Map<string, KeyQueue>;
  /** Keys whose head can be attempted now, FIFO. */
  readonly ready: KeyFifo;
  inFlight: number;
  /** Deliveries held in memory. */
  held: number;
  /** Pending deliveries, in memory or in the store. */
  pending: number;
  /** Ids of deliveries in flight when their registration was removed: cancelled unless delivered. */
  cancelOnFailure: Set<number> | undefined;
  /** Highest delivery id held (or already finished); the store is read above it. */
  loadedUpTo: number;
  /** Pending deliveries above `loadedUpTo` may be waiting in the store. */
  moreInStore: boolean;
  /** Retryable failures since the last answer. */
  failStreak: number;
  /** Consecutive failing holds (their delay doubles). */
  failingHolds: number;
  hold: UrlHold | undefined;
}

export class Dispatcher {
  private readonly endpoints = new Map<string, Endpoint>();
  /** The source waits for room (see roomFor). */
  private roomWait: Promise<void> | undefined;
  private resolveRoom: (() => void) | undefined;
  private roomUrls: ReadonlySet<string> = new Set();
  private sourceReleased = false;
  /** Attempts handed to the sender and not settled yet, across URLs; stop() waits for them. */
  private attemptsInFlight = 0;
  private onIdle: (() => void) | undefined;
  private readonly now: () => number;
  private readonly maxHeld: number;
  private readonly minPage: number;
  private readonly debug: boolean;
  private pendingCount = 0;
  private stopping = false;
  /** Attempts per URL handed to the sender at once: running plus waiting there for a connection. */
  private readonly maxInFlight: number;
  /** Deliveries of one key handed over at once: MAX_CHAIN with a sender that keeps them in order. */
  private readonly maxChain: number;

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.maxHeld = Math.max(1, opts.maxHeldPerUrl ?? DEFAULT_MAX_HELD_PER_URL);
    this.minPage = Math.max(1, Math.min(MIN_PAGE, Math.floor(this.maxHeld / 4)));
    this.maxInFlight = opts.concurrencyPerUrl + Math.max(0, opts.queuedPerUrl ?? 0);
    this.maxChain = opts.sender.sendInOrder ? MAX_CHAIN : 1;
    this.debug = opts.logger.isLevelEnabled('debug');
  }

  /** Picks up the pending deliveries of the outbox (start-up) and starts sending. */
  start(): void {
    const { pending, dead } = this.opts.outbox.backlog();
    this.pendingCount = pending;
    this.opts.metrics.countPendingWith(() => this.pendingCount);
    this.opts.metrics.outboxDead.set(dead);
    for (const [url, n] of this.opts.outbox.pendingByUrl()) {
      const ep = this.endpoint(url);
      ep.pending = n;
      ep.moreInStore = true;
      this.refill(ep, true);
    }
    this.restorePauses();
    this.opts.logger.info({ pending, urls: this.endpoints.size }, 'dispatcher started');
    for (const ep of this.endpoints.values()) this.pump(ep);
  }

  /**
   * Deliveries just committed to the outbox. `staged` counts those of a large transaction that were
   * stored in parts before its commit: they precede `created`, and are read from the store.
   */
  enqueue(created: readonly Delivery[], staged?: StagedCounts): void {
    const touched = new Set<Endpoint>();
    if (staged) {
      for (const [url, n] of staged) {
        const ep = this.endpoint(url);
        ep.moreInStore = true;
        ep.pending += n;
        this.pendingCount += n;
        touched.add(ep);
      }
    }
    for (const d of created) {
      const ep = this.endpoint(d.url);
      this.pendingCount++;
      ep.pending++;
      // Once a URL has deliveries waiting in the store, newer ones wait behind them there; so does
      // the backlog of a held URL (it is read back when the URL resumes).
      if (ep.hold || ep.moreInStore || ep.held >= this.maxHeld) ep.moreInStore = true;
      else this.hold(ep, d);
      touched.add(ep);
    }
    for (const ep of touched) this.pump(ep);
  }

  /**
   * Flow control for the source: undefined when reading on is useful, else a promise that resolves
   * once it is. Reading on is of no use while every URL of `urls` is behind: sending (not held), its
   * in-memory window nearly full or deliveries of it waiting in the store. What was read then would
   * only be written to the store and read back (a third of the catch-up work); the binlog keeps it
   * meanwhile. A held URL (failing, 410) is never behind: the outbox takes its backlog, so the
   * binlog can be purged while a receiver is down.
   */
  roomFor(urls: ReadonlySet<string>): Promise<void> | undefined {
    if (this.stopping || this.sourceReleased || !this.allBehind(urls, this.maxHeld - this.minPage)) return undefined;
    this.roomUrls = urls;
    this.roomWait ??= new Promise<void>((resolve) => (this.resolveRoom = resolve));
    return this.roomWait;
  }

  /** Stops holding the source back, for good (shutdown: the reader must not wait on deliveries). */
  releaseSource(): void {
    this.sourceReleased = true;
    this.openRoom();
  }

  /** Pending deliveries, held in memory or waiting in the store. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Pending deliveries of URLs that are not held: those that drain (the outbox limit counts them). */
  get drainablePending(): number {
    let n = this.pendingCount;
    for (const ep of this.endpoints.values()) if (ep.hold) n -= ep.pending;
    return n;
  }

  /**
   * Registrations removed by the source transaction about to be committed: the pending deliveries
   * of each (url, event) are cancelled, kept in the store (status cancelled) and dropped from
   * memory. Those in flight finish; if not delivered they are cancelled then.
   */
  cancelRegistrations(removed: ReadonlyArray<{ readonly url: string; readonly event: string }>): void {
    const byUrl = new Map<string, string[]>();
    for (const r of removed) {
      const events = byUrl.get(r.url);
      if (events) events.push(r.event);
      else byUrl.set(r.url, [r.event]);
    }
    for (const [url, events] of byUrl) {
      const ep = this.endpoints.get(url);
      if (!ep || ep.pending === 0) continue;
      const { dropped, inFlight, ready } = dropEvents(ep.keys, events);
      ep.held -= dropped;
      for (const key of ready) ep.ready.push(key);
      const n = this.opts.outbox.cancelPending(url, events, inFlight, `${CANCELLED}: registration removed before delivery`);
      if (inFlight.length > 0) {
        ep.cancelOnFailure ??= new Set();
        for (const id of inFlight) ep.cancelOnFailure.add(id);
      }
      this.cancelled(ep, n);
      this.opts.logger.warn(
        { url: safeUrl(url), code: CANCELLED, events, cancelled: n, inFlight: inFlight.length },
        'registration removed or its URL changed: pending deliveries cancelled (kept in the outbox)',
      );
      this.pump(ep);
    }
  }

  private cancelled(ep: Endpoint, n: number): void {
    ep.pending -= n;
    this.pendingCount -= n;
    this.opts.metrics.deliveriesCancelled.inc(n);
    this.checkRoom();
  }

  /** URLs currently paused after a 410 Gone (including those being probed). */
  get pausedUrls(): string[] {
    return [...this.endpoints.values()].filter((ep) => ep.hold?.reason === 'gone').map((ep) => ep.url);
  }

  /** Stops starting attempts; waits up to `graceMs` for those in flight (the rest stay pending). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.openRoom();
    this.opts.sender.cancelQueued?.();
    for (const ep of this.endpoints.values()) {
      for (const kq of ep.keys.values()) kq.timer?.clear();
      ep.hold?.timer?.clear();
    }
    if (this.attemptsInFlight === 0) return;
    let timer: SafeTimer | undefined;
    await new Promise<void>((resolve) => {
      this.onIdle = resolve;
      timer = safeTimeout(resolve, graceMs, true);
    });
    timer?.clear();
  }

  /** True when every URL of `urls` sends, with `held >= threshold` or deliveries in the store. */
  private allBehind(urls: ReadonlySet<string>, threshold: number): boolean {
    if (urls.size === 0) return false;
    for (const url of urls) {
      const ep = this.endpoints.get(url);
      if (!ep || ep.hold || (!ep.moreInStore && ep.held < threshold)) return false;
    }
    return true;
  }

  /** Lets a waiting source read on once some URL has room for a page (hysteresis: two pages' worth). */
  private checkRoom(): void {
    if (this.resolveRoom && !this.allBehind(this.roomUrls, this.maxHeld - 2 * this.minPage)) this.openRoom();
  }

  private openRoom(): void {
    const resolve = this.resolveRoom;
    this.roomWait = undefined;
    this.resolveRoom = undefined;
    resolve?.();
  }

  private endpoint(url: string): Endpoint {
    let ep = this.endpoints.get(url);
    if (!ep) {
      ep = {
        url,
        bodyFormat: this.opts.bodyFormatFor(url),
        keys: new Map(),
        ready: new KeyFifo(),
        inFlight: 0,
        held: 0,
        pending: 0,
        cancelOnFailure: undefined,
        loadedUpTo: 0,
        moreInStore: false,
        failStreak: 0,
        failingHolds: 0,
        hold: undefined,
      };
      this.endpoints.set(url, ep);
    }
    return ep;
  }

  /** Takes a delivery into memory, behind the others of its key. */
  private hold(ep: Endpoint, d: Delivery): void {
    let kq = ep.keys.get(d.orderKey);
    if (!kq) {
      kq = { items: [], sent: 0, timer: undefined };
      ep.keys.set(d.orderKey, kq);
    }
    kq.items.push(d);
    ep.held++;
    if (d.id > ep.loadedUpTo) ep.loadedUpTo = d.id;
    if (!isBusy(kq) && kq.items.length === 1) ep.ready.push(d.orderKey);
  }

  /**
   * Loads pages of store-only deliveries while few keys are ready and memory allows. A held URL
   * loads nothing (it sends nothing) unless `force`: a probe with nothing in memory.
   */
  private refill(ep: Endpoint, force = false): void {
    if (ep.hold && !force) return;
    while (ep.moreInStore && this.maxHeld - ep.held >= (force ? 1 : this.minPage) && (force || ep.ready.length < REFILL_BELOW_READY_KEYS)) {
      const want = Math.min(PAGE_SIZE, this.maxHeld - ep.held);
      const page = this.opts.outbox.pendingPage(ep.url, ep.loadedUpTo, want);
      for (const d of page) this.hold(ep, d);
      if (page.length < want) ep.moreInStore = false;
      if (force) break;
    }
  }

  private pump(ep: Endpoint): void {
    if (this.stopping) return;
    if (ep.hold) {
      this.pumpProbe(ep, ep.hold);
      return;
    }
    if (ep.moreInStore && ep.ready.length < REFILL_BELOW_READY_KEYS) this.refill(ep);
    while (ep.inFlight < this.maxInFlight && ep.ready.length > 0) {
      const key = ep.ready.shift()!;
      const kq = ep.keys.get(key);
      if (!kq || isBusy(kq) || kq.items.length === 0) continue;
      this.launch(ep, key, kq, this.maxChain);
    }
  }

  /** A held URL: nothing until the hold time is over, then exactly one request at a time (the probe). */
  private pumpProbe(ep: Endpoint, hold: UrlHold): void {
    if (!hold.probing || ep.inFlight > 0) return;
    if (ep.keys.size === 0 && ep.moreInStore) this.refill(ep, true);
    let key = hold.probeKey;
    let kq = key === undefined ? undefined : ep.keys.get(key);
    if (!kq) {
      // No probe key yet, or its head was dead-lettered: probe with another key's head.
      const startable = (k: string): boolean => {
        const q = ep.keys.get(k);
        return q !== undefined && !isBusy(q);
      };
      const next = ep.ready.find(startable) ?? (hold.reason === 'gone' ? ep.keys.keys().next().value : undefined);
      if (next === undefined) {
        if (ep.keys.size === 0) {
          this.resume(ep, 'nothing left to send');
          this.pump(ep);
        }
        // Otherwise every key waits for its own retry time; its timer pumps again.
        return;
      }
      key = next;
      kq = ep.keys.get(key)!;
      hold.probeKey = key;
    }
    // A busy probe key is in flight or waits for its retry time; its timer pumps again.
    if (isBusy(kq) || kq.items.length === 0) return;
    ep.ready.remove(key!);
    this.launch(ep, key!, kq, 1);
  }

  /**
   * Hands the sender the head of a key and, with sendInOrder, up to `chainMax` deliveries after it
   * that are due. One callback per attempt, no promise (an async function with .catch and .finally
   * chained on it was the largest allocation of the catch-up path).
   */
  private launch(ep: Endpoint, key: string, kq: KeyQueue, chainMax: number): void {
    const startedAt = this.now();
    const items = kq.items;
    if (items[0]!.nextAttemptAtMs > startedAt) {
      this.retryLater(ep, key, kq, items[0]!.nextAttemptAtMs);
      return;
    }
    const limit = Math.min(items.length, chainMax, Math.max(1, this.maxInFlight - ep.inFlight));
    let n = 1;
    while (n < limit && items[n]!.nextAttemptAtMs <= startedAt) n++;
    const chain = items.slice(0, n);
    kq.sent = n;
    ep.inFlight += n;
    this.attemptsInFlight += n;
    const onOutcome: OutcomeCallback = (i, outcome) => {
      const d = chain[i]!;
      // A chained attempt started when the one before it ended: its own duration tells when.
      const at = i === 0 || outcome.kind === 'unsent' ? startedAt : Math.max(startedAt, this.now() - outcome.durationMs);
      try {
        this.settle(ep, key, kq, d, at, outcome);
      } catch (err) {
        this.bookkeepingFailed(ep, key, kq, d, err);
      }
      this.release(ep, key, kq);
      this.finished(ep);
    };
    const sender = this.opts.sender;
    if (sender.sendInOrder) {
      sender.sendInOrder(chain.map((d) => this.attemptOf(ep, d)), onOutcome);
      return;
    }
    sender.send(this.attemptOf(ep, chain[0]!)).then(
      (outcome) => onOutcome(0, outcome),
      (err: unknown) => {
        this.bookkeepingFailed(ep, key, kq, chain[0]!, err);
        this.release(ep, key, kq);
        this.finished(ep);
      },
    );
  }

  private attemptOf(ep: Endpoint, d: Delivery): DeliveryAttempt {
    return {
      url: ep.url,
      eventId: d.eventId,
      eventName: d.eventName,
      occurredAtMs: d.occurredAtMs,
      body: d.body,
      bodyFormat: ep.bodyFormat,
      attempt: d.attempts + 1,
    };
  }

  /** The outbox failed under us (disk full, closed): the delivery stays pending for the next try. */
  private bookkeepingFailed(ep: Endpoint, key: string, kq: KeyQueue, d: Delivery, err: unknown): void {
    this.opts.logger.error({ err, deliveryId: d.id }, 'delivery bookkeeping failed; will retry');
    this.retryLater(ep, key, kq, this.now() + 1000);
  }

  private finished(ep: Endpoint): void {
    ep.inFlight--;
    if (--this.attemptsInFlight === 0) this.onIdle?.();
    this.pump(ep);
  }

  private settle(ep: Endpoint, key: string, kq: KeyQueue, d: Delivery, startedAt: number, outcome: AttemptOutcome): void {
    const { outbox, metrics, logger } = this.opts;
    if (ep.cancelOnFailure?.delete(d.id) && outcome.kind !== 'delivered') {
      // Its registration was removed while it was in flight (or queued in a chain): not sent again.
      outbox.markCancelled(d.id, `${CANCELLED}: registration removed before delivery`);
      metrics.deliveriesCancelled.inc();
      this.advance(ep, kq, d);
      return;
    }
    // Never sent (the URL was held meanwhile, a delivery before it in its chain was not delivered,
    // or the bridge stops): it stays in line, unchanged.
    if (outcome.kind === 'unsent') return;
    if (outcome.kind === 'gone') {
      // A 410 from the probe (or with no pause yet) starts a pause; one from a request that was
      // already in flight when the pause began just waits for the same pause to end. It spends no
      // retry budget: neither an attempt nor, while paused, age.
      ep.failStreak = 0;
      if (ep.hold?.reason !== 'gone' || ep.hold.probing) this.pauseGone(ep, key, d);
      d.nextAttemptAtMs = ep.hold!.untilMs;
      outbox.markGone(d.id, d.nextAttemptAtMs, outcome.status, `${outcome.error.code}: ${outcome.error.message}; URL paused, event kept`);
      metrics.observeDeliveryAttempt('gone', outcome.durationMs);
      // The head stays at the front of its key; the key waits in `ready` until the URL resumes.
      return;
    }
    d.attempts++;
    d.firstAttemptAtMs ??= startedAt;
    if (outcome.kind === 'delivered') {
      outbox.markDelivered(d.id, outcome.status, startedAt);
      metrics.observeDeliveryAttempt('delivered', outcome.durationMs);
      if (this.debug) logger.debug({ ...logFields(ep, d), status: outcome.status, body: d.body }, 'delivered');
      this.answered(ep, outcome.status, true);
      this.advance(ep, kq, d);
      return;
    }
    const status = outcome.status ?? null;
    if (outcome.kind === 'retry') {
      const decision = nextAttemptAt({
        policy: this.opts.policy,
        attempt: d.attempts,
        // A 5xx to the probe of a 410 pause: the pause so far spends no age budget.
        firstAttemptAtMs: ep.hold?.reason === 'gone' ? ageStart(d.firstAttemptAtMs, ep.hold, this.now()) : d.firstAttemptAtMs,
        nowMs: this.now(),
        retryAfterMs: outcome.retryAfterMs,
      });
      this.failed(ep, outcome.retryAfterMs);
      if (decision.kind === 'retry') {
        d.nextAttemptAtMs = decision.atMs;
        outbox.markRetry(d.id, decision.atMs, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt);
        metrics.observeDeliveryAttempt('retry', outcome.durationMs);
        logger.warn(
          { ...logFields(ep, d), status, code: outcome.error.code, error: outcome.error.message, retryInMs: decision.atMs - this.now() },
          'delivery failed; will retry',
        );
        this.retryLater(ep, key, kq, decision.atMs);
        return;
      }
      const reason = `UCW_ERR_DELIVERY_EXHAUSTED: retry budget spent (${decision.reason}); last error ${outcome.error.code}: ${outcome.error.message}`;
      this.deadLetter(ep, d, status, reason, startedAt, outcome.durationMs);
    } else {
      // An HTTP answer (4xx, 3xx) shows the receiver is there; a refusal before sending shows nothing.
      if (status !== null) this.answered(ep, status, false);
      this.deadLetter(ep, d, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt, outcome.durationMs);
    }
    this.advance(ep, kq, d);
  }

  private deadLetter(ep: Endpoint, d: Delivery, status: number | null, reason: string, startedAt: number, durationMs: number): void {
    this.opts.outbox.markDead(d.id, status, reason, startedAt);
    this.opts.metrics.observeDeliveryAttempt('dead', durationMs);
    this.opts.metrics.outboxDead.inc();
    this.opts.logger.error({ ...logFields(ep, d), status, code: reason.split(':')[0], error: reason }, 'delivery dead-lettered (kept in the outbox)');
  }

  /**
   * The receiver answered (not 410, not retryable): a failing hold is over. A 410 pause ends only
   * with a 2xx from its probe (`success`); any other answer to the probe leaves the URL paused.
   */
  private answered(ep: Endpoint, status: number, success: boolean): void {
    ep.failStreak = 0;
    ep.failingHolds = 0;
    const hold = ep.hold;
    if (hold && (hold.reason === 'failing' || (success && hold.probing))) this.resume(ep, `probe answered ${status}`);
  }

  /** A retryable failure: FAILURES_TO_HOLD in a row hold the URL; a failed probe holds it longer. */
  private failed(ep: Endpoint, retryAfterMs: number | undefined): void {
    ep.failStreak++;
    const hold = ep.hold;
    if (hold) {
      if (hold.reason === 'failing' && hold.probing) this.holdFailing(ep, retryAfterMs);
      return;
    }
    if (ep.failStreak >= FAILURES_TO_HOLD) this.holdFailing(ep, retryAfterMs);
  }

  private holdFailing(ep: Endpoint, retryAfterMs: number | undefined): void {
    const { policy, metrics, logger } = this.opts;
    ep.failingHolds++;
    const backoff = Math.min(FAILING_HOLD_MAX_MS, policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(ep.failingHolds - 1, 30));
    const holdMs = Math.max(backoff, Math.min(retryAfterMs ?? 0, policy.maxRetryAfterMs));
    ep.hold?.timer?.clear();
    const hold: UrlHold = { reason: 'failing', untilMs: this.now() + holdMs, probeKey: undefined, probing: false, timer: undefined, sinceMs: this.now() };
    ep.hold = hold;
    this.scheduleHoldEnd(ep, hold);
    this.opts.sender.cancelQueued?.(ep.url);
    this.checkRoom();
    metrics.urlsFailing.set(this.countHolds('failing'));
    const fields = { url: safeUrl(ep.url), code: 'UCW_WARN_DELIVERY_URL_FAILING', failuresInARow: ep.failStreak, holdMs, pendingForUrl: ep.pending };
    // Once per outage at warn; the longer holds that follow failed probes only at debug.
    if (ep.failingHolds === 1) logger.warn(fields, 'receiver keeps failing: URL held, then probed with one delivery at a time; events kept');
    else logger.debug(fields, 'probe failed; URL held again');
  }

  private pauseGone(ep: Endpoint, key: string, d: Delivery): void {
    const pauseMs = this.opts.gonePauseMs;
    const untilMs = this.now() + pauseMs;
    ep.hold?.timer?.clear();
    const sinceMs = ep.hold?.reason === 'gone' ? ep.hold.sinceMs : this.now();
    const hold: UrlHold = { reason: 'gone', untilMs, probeKey: key, probing: false, timer: undefined, sinceMs };
    ep.hold = hold;
    this.scheduleHoldEnd(ep, hold);
    this.opts.sender.cancelQueued?.(ep.url);
    this.checkRoom();
    this.opts.metrics.urlsFailing.set(this.countHolds('failing'));
    this.holdGaugesAndSave();
    this.opts.logger.error(
      {
        ...logFields(ep, d),
        status: 410,
        code: 'UCW_ERR_DELIVERY_GONE',
        pausedForMs: pauseMs,
        pausedUntil: new Date(untilMs).toISOString(),
        pendingForUrl: ep.pending,
      },
      `receiver answered 410 Gone; URL paused for ${formatSeconds(pauseMs)} s; events kept`,
    );
  }

  private scheduleHoldEnd(ep: Endpoint, hold: UrlHold): void {
    if (this.stopping) return;
    hold.timer = safeTimeout(() => {
      hold.timer = undefined;
      if (ep.hold !== hold) return;
      hold.probing = true;
      const what = hold.reason === 'gone' ? '410 Gone pause over' : 'failing URL hold over';
      (hold.reason === 'gone' ? this.opts.logger.info : this.opts.logger.debug).call(
        this.opts.logger,
        { url: safeUrl(ep.url), pendingForUrl: ep.pending },
        `${what}; probing the URL with one delivery`,
      );
      this.pump(ep);
    }, hold.untilMs - this.now());
  }

  private resume(ep: Endpoint, why: string): void {
    const hold = ep.hold;
    if (!hold) return;
    hold.timer?.clear();
    ep.hold = undefined;
    if (hold.reason === 'gone') {
      // The age budget of every delivery of the URL resumes where the pause stopped it: in the store
      // (those not held in memory, and after a restart) and in memory alike.
      const now = this.now();
      try {
        this.opts.outbox.shiftFirstAttempts(ep.url, hold.sinceMs, now);
      } catch (err) {
        // Only costs age budget: a delivery may be dead-lettered sooner after the pause.
        this.opts.logger.warn({ err, url: safeUrl(ep.url) }, 'cannot save the age budget kept through the 410 Gone pause');
      }
      for (const kq of ep.keys.values()) for (const d of kq.items) if (d.firstAttemptAtMs !== null) d.firstAttemptAtMs = ageStart(d.firstAttemptAtMs, hold, now);
      this.holdGaugesAndSave();
      this.opts.logger.info({ url: safeUrl(ep.url), pendingForUrl: ep.pending, reason: why }, 'URL resumed after 410 Gone pause');
    } else {
      this.opts.metrics.urlsFailing.set(this.countHolds('failing'));
      this.opts.logger.info({ url: safeUrl(ep.url), pendingForUrl: ep.pending, reason: why }, 'failing URL answered again; delivery resumed');
    }
  }

  private countHolds(reason: UrlHold['reason']): number {
    let n = 0;
    for (const ep of this.endpoints.values()) if (ep.hold?.reason === reason) n++;
    return n;
  }

  private holdGaugesAndSave(): void {
    this.opts.metrics.urlsPaused.set(this.countHolds('gone'));
    const saved: Record<string, { untilMs: number; probeKey: string | undefined; sinceMs: number }> = {};
    for (const ep of this.endpoints.values()) {
      if (ep.hold?.reason === 'gone') saved[ep.url] = { untilMs: ep.hold.untilMs, probeKey: ep.hold.probeKey, sinceMs: ep.hold.sinceMs };
    }
    try {
      this.opts.outbox.setMeta(GONE_PAUSES_META_KEY, JSON.stringify(saved));
    } catch (err) {
      // Only costs an early probe after a restart; the pause itself holds in memory.
      this.opts.logger.warn({ err }, 'cannot save the 410 Gone pauses');
    }
  }

  /** Pauses from before a restart: still in force for URLs that have pending deliveries. */
  private restorePauses(): void {
    let saved: Record<string, { untilMs?: unknown; probeKey?: unknown; sinceMs?: unknown }> = {};
    try {
      const raw = this.opts.outbox.getMeta(GONE_PAUSES_META_KEY);
      if (raw !== undefined) saved = JSON.parse(raw) as typeof saved;
    } catch (err) {
      this.opts.logger.warn({ err }, 'cannot read the saved 410 Gone pauses; ignoring them');
    }
    for (const [url, p] of Object.entries(saved)) {
      const ep = this.endpoints.get(url);
      if (!ep || typeof p.untilMs !== 'number') continue;
      const probeKey = typeof p.probeKey === 'string' && ep.keys.has(p.probeKey) ? p.probeKey : ep.keys.keys().next().value;
      if (probeKey === undefined) continue;
      const sinceMs = typeof p.sinceMs === 'number' ? p.sinceMs : this.now();
      const hold: UrlHold = { reason: 'gone', untilMs: p.untilMs, probeKey, probing: p.untilMs <= this.now(), timer: undefined, sinceMs };
      ep.hold = hold;
      if (!hold.probing) this.scheduleHoldEnd(ep, hold);
      this.opts.logger.warn(
        { url: safeUrl(url), code: 'UCW_ERR_DELIVERY_GONE', pausedUntil: new Date(p.untilMs).toISOString(), pendingForUrl: ep.pending },
        'URL still paused after a 410 Gone from before the restart; events kept',
      );
    }
    this.holdGaugesAndSave();
  }

  /**
   * A delivery is finished (delivered or dead): it leaves its key. It is the head, except after a
   * bookkeeping failure kept an earlier one of its chain in line.
   */
  private advance(ep: Endpoint, kq: KeyQueue, d: Delivery): void {
    const i = kq.items[0] === d ? 0 : kq.items.indexOf(d);
    if (i < 0) return;
    if (i === 0) kq.items.shift();
    else kq.items.splice(i, 1);
    ep.held--;
    ep.pending--;
    this.pendingCount--;
    this.checkRoom();
  }

  /**
   * One delivery of the key's chain is answered. After the last, the key takes its turn again
   * unless its head waits for a retry time; a key with nothing left is dropped.
   */
  private release(ep: Endpoint, key: string, kq: KeyQueue): void {
    kq.sent--;
    if (isBusy(kq)) return;
    if (kq.items.length > 0) ep.ready.push(key);
    else if (ep.keys.get(key) === kq) ep.keys.delete(key);
  }

  /** The head stays at the front of its key (order), and becomes ready again at `atMs`. */
  private retryLater(ep: Endpoint, key: string, kq: KeyQueue, atMs: number): void {
    kq.timer?.clear();
    if (this.stopping) return;
    kq.timer = safeTimeout(() => {
      kq.timer = undefined;
      // Still answering a chain (a bookkeeping failure within it): its last answer makes the key ready.
      if (kq.sent > 0) return;
      ep.ready.push(key);
      this.pump(ep);
    }, atMs - this.now());
  }
}

/** The first attempt time moved on by the time the 410 pause `hold` has lasted since then. */
function ageStart(firstAttemptAtMs: number, hold: UrlHold, nowMs: number): number {
  return firstAttemptAtMs + Math.max(0, nowMs - Math.max(firstAttemptAtMs, hold.sinceMs));
}

/** Log fields of one delivery (built only when a line is written: safeUrl parses the URL). */
function logFields(ep: Endpoint, d: Delivery): Record<string, unknown> {
  return { deliveryId: d.id, eventId: d.eventId, event: d.eventName, url: safeUrl(ep.url), attempt: d.attempts };
}

/** Seconds for a log message: whole seconds as such, shorter pauses (tests) with up to 3 decimals. */
function formatSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}
