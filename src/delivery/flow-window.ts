// The flow-control window, the one gate on reading the binlog. Deliveries are buffered in memory
// within one budget in bytes for all URLs together (buffer-budget.ts: shared fairly); the rest wait in
// the state store and are paged in, in id order, as buffered ones finish (ids only grow, so the
// buffered ones are a prefix of a URL's pending ones; a URL over its share sheds its newest ones back to
// the store, keeping that prefix). Reading waits (roomFor) while the deliveries that can drain reach
// --max-outbox-pending, while the store is at --max-outbox-bytes after delivered and cancelled rows
// were pruned for room, or while every URL of the transaction is behind (its share nearly full or rows
// waiting in the store). A failing or paused URL drains nothing and is never behind: its backlog goes
// to the store, never holds reading.

import type { WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, StateStore } from '../outbox/state-store.js';
import { BufferBudget, type BudgetAccount } from './buffer-budget.js';
import { systemClock, type Clock } from './clock.js';

/**
 * --max-buffered-bytes by default: about 20,000 deliveries of a few hundred bytes, over a second of
 * sending at full speed for one URL; 20 URLs get about 1,000 each, 200 URLs about 100. 32 MiB drained
 * a backlog no faster and held ~45 MB more heap at the peak (bench/RESULTS.md).
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 ** 2;
/** A buffered delivery's heap beyond its strings: the object, its fields, its key queue slot. */
const DELIVERY_OVERHEAD_BYTES = 200;
/** Deliveries read from the store per page. */
const PAGE_SIZE = 2_000;
/** Fewest deliveries a page is read for: one query per finished delivery would cost the thread. */
const MIN_PAGE = PAGE_SIZE / 4;
/** A URL with rows in the store pages more in when fewer keys than this are ready. */
const REFILL_BELOW_READY_KEYS = 256;
/**
 * ...unless its sender is busy and this many buffered deliveries wait unsent already: their keys are in
 * flight, so more rows would only wait too (a 1M drain's last 200 busy keys held the whole budget).
 */
export const AHEAD_WHEN_BUSY = 2 * PAGE_SIZE;
/** How often a budget-full wait checks again. */
const POLL_INTERVAL_MS = 100;
/** The store's size is read at most this often while there is room (it is checked per transaction). */
export const BYTES_CHECK_MS = 100;
/** A URL over its share sheds at least this part of the budget at a time (one scan of its buffer). */
const SHED_FRACTION = 16;

/** Memory a buffered delivery takes, about: its strings (one byte per character) and the rest. */
export function deliveryCost(d: Delivery): number {
  return d.body.length + d.eventId.length + d.orderKey.length + d.url.length + DELIVERY_OVERHEAD_BYTES;
}

/** The window's account of one URL. */
export interface UrlWindow extends BudgetAccount {
  readonly url: string;
  /** Pending deliveries, buffered or in the store. */
  pending: number;
  buffered: number;
  /** Highest delivery id buffered (or already finished); the store is paged above it. */
  loadedUpTo: number;
  /** Pending deliveries above `loadedUpTo` may be waiting in the store. */
  moreInStore: boolean;
  /** Failing or paused: buffers nothing new, drains nothing, never holds reading back. */
  stalled: boolean;
  /**
   * Deliveries requeued below `loadedUpTo` (retried dead letters): the store is paged from this id
   * again, skipping those held in memory, until the pages pass `loadedUpTo`.
   */
  rewindFrom?: number;
  /** Where its deliveries are buffered (the last sink it was given). */
  sink: PageSink | undefined;
}

/** Where paged-in deliveries go (a URL's key queues). */
export interface PageSink {
  readonly readyCount: number;
  add(d: Delivery): void;
  /**
   * Takes back the newest buffered deliveries that are neither in flight nor waiting for a retry time,
   * at least `bytes` of them by `costOf` if it can: all those above some id, returned.
   */
  shed(bytes: number, costOf: (d: Delivery) => number): Delivery[];
  /** Ids of the deliveries it holds (a rewound page skips them). */
  heldIds?(): ReadonlySet<number>;
}

export interface FlowWindowOptions {
  readonly store: Pick<StateStore, 'pendingPage'> & Partial<Pick<StateStore, 'flushOutcomes'>>;
  /** --max-buffered-bytes: deliveries buffered in memory, all URLs together. */
  readonly maxBufferedBytes?: number;
  /** What a buffered delivery counts against the budget (deliveryCost; tests count deliveries). */
  readonly costOf?: (d: Delivery) => number;
  /** --max-outbox-pending: most deliveries of URLs neither failing nor paused. */
  readonly maxPending: number;
  /** --max-outbox-bytes. */
  readonly maxBytes: number;
  /** Bytes the store takes. */
  readonly usedBytes: () => number;
  /** Deletes delivered and cancelled rows, oldest first, while `stillFull()` (Pruner.reclaim). */
  readonly reclaim: (stillFull: () => boolean) => Promise<unknown>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock?: Clock;
}

type Full = 'pending' | 'bytes';

export class FlowWindow {
  private readonly urls = new Map<string, UrlWindow>();
  private total = 0;
  readonly budget: BufferBudget;
  private readonly costOf: (d: Delivery) => number;
  /** Running mean cost of a buffered delivery: how many rows a page of so many bytes asks for. */
  private meanCost = 0;
  private readonly clock: Clock;
  private released = false;
  private bytes = 0;
  private bytesAtMs = -Infinity;
  /** Reading waits for a URL to fall behind no more (see roomFor). */
  private roomWait: Promise<void> | undefined;
  private openRoom: (() => void) | undefined;
  private roomUrls: ReadonlySet<string> = new Set();
  private endPoll: (() => void) | undefined;

  constructor(private readonly opts: FlowWindowOptions) {
    this.budget = new BufferBudget(Math.max(1, opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES));
    this.costOf = opts.costOf ?? deliveryCost;
    this.clock = opts.clock ?? systemClock;
  }

  /** Pending deliveries, buffered or in the store. */
  get pending(): number {
    return this.total;
  }

  /** Bytes buffered in memory, all URLs together. */
  get bufferedBytes(): number {
    return this.budget.total;
  }

  /** Pending deliveries of URLs neither failing nor paused: those that drain. */
  get drainable(): number {
    let n = this.total;
    for (const uw of this.urls.values()) if (uw.stalled) n -= uw.pending;
    return n;
  }

  /** The account of `url`, opened on first use. */
  open(url: string, sink?: PageSink): UrlWindow {
    let uw = this.urls.get(url);
    if (!uw) {
      uw = {
        url,
        pending: 0,
        buffered: 0,
        bytes: 0,
        active: false,
        starving: false,
        loadedUpTo: 0,
        moreInStore: false,
        stalled: false,
        sink,
      };
      this.urls.set(url, uw);
    }
    if (sink) uw.sink = sink;
    return uw;
  }

  /** Start-up: `total` pending deliveries in the store, `byUrl` of them per URL; each URL pages some in. */
  restore(total: number, byUrl: ReadonlyMap<string, number>, sinkOf: (uw: UrlWindow) => PageSink): void {
    this.total = total;
    for (const [url, n] of byUrl) {
      const uw = this.open(url);
      uw.pending = n;
      uw.moreInStore = true;
      this.sync(uw);
    }
    for (const url of byUrl.keys()) {
      const uw = this.open(url);
      this.refill(uw, sinkOf(uw), true);
    }
  }

  /** A delivery just committed: buffered, unless the URL has rows waiting in the store (they go first). */
  committed(uw: UrlWindow, d: Delivery, sink: PageSink): void {
    this.total++;
    uw.pending++;
    uw.sink = sink;
    this.sync(uw);
    if (uw.stalled || uw.moreInStore || !this.take(uw, d)) uw.moreInStore = true;
    else this.buffer(uw, d, sink);
    this.sync(uw);
  }

  /** Parts of a large transaction stored before its commit: they wait in the store. */
  staged(uw: UrlWindow, n: number): void {
    uw.moreInStore = true;
    uw.pending += n;
    this.total += n;
    this.sync(uw);
  }

  /**
   * `n` deliveries of the URL went back to pending in the store (retried by the operator), the lowest
   * with id `minId`: below what was paged already, so the store is paged again from there.
   */
  requeued(uw: UrlWindow, n: number, minId: number): void {
    if (n <= 0) return;
    this.total += n;
    uw.pending += n;
    uw.moreInStore = true;
    if (minId <= uw.loadedUpTo) uw.rewindFrom = Math.min(uw.rewindFrom ?? Infinity, minId - 1);
    this.sync(uw);
  }

  /**
   * Pages store rows in while few keys are ready and the budget allows. A stalled URL pages nothing
   * (it sends nothing) unless `force`: a probe with nothing buffered, or a start-up page. While
   * rewound (requeued deliveries below `loadedUpTo`), pages start at `rewindFrom` and skip held ones.
   * `busyInFlight`: the URL's deliveries in flight, given when its sender is busy (AHEAD_WHEN_BUSY).
   */
  refill(uw: UrlWindow, sink: PageSink, force = false, busyInFlight?: number): void {
    uw.sink = sink;
    if (uw.stalled && !force) return;
    const bufferedBelow = busyInFlight === undefined ? Infinity : busyInFlight + AHEAD_WHEN_BUSY;
    while (uw.moreInStore && (force || (sink.readyCount < REFILL_BELOW_READY_KEYS && uw.buffered < bufferedBelow))) {
      const min = force ? 1 : this.minPageBytes(uw);
      let room = this.roomFor1(uw, min);
      if (room < min && !(force && uw.buffered === 0)) break;
      const mean = this.meanCost || 1;
      const want = Math.max(1, Math.min(PAGE_SIZE, Math.floor(room / mean)));
      const rewound = uw.rewindFrom !== undefined;
      // A delivery finished a moment ago may still read as pending until its outcome is written.
      if (rewound) this.opts.store.flushOutcomes?.();
      const held = rewound ? sink.heldIds?.() : undefined;
      const below = uw.loadedUpTo;
      const page = this.opts.store.pendingPage(uw.url, uw.rewindFrom ?? uw.loadedUpTo, want);
      let full = false;
      let last = -1;
      for (const d of page) {
        if (held?.has(d.id)) {
          last = d.id;
          continue;
        }
        const cost = this.costOf(d);
        // The first delivery of an empty URL always goes in: a URL with nothing buffered moves on.
        if (cost > room && uw.buffered > 0) {
          full = true;
          break;
        }
        room -= cost;
        this.buffer(uw, d, sink);
        last = d.id;
      }
      // The rewind ends once its pages pass what was paged before it; else the next page goes on from `last`.
      if (rewound && last >= 0) uw.rewindFrom = last >= below ? undefined : last;
      if (!full && page.length < want) {
        uw.rewindFrom = undefined;
        uw.moreInStore = false;
      }
      if (force || full) break;
    }
    this.sync(uw);
  }

  /** A buffered delivery is finished (delivered, dead, cancelled). */
  finished(uw: UrlWindow, d: Delivery): void {
    uw.buffered--;
    this.budget.remove(uw, this.costOf(d));
    uw.pending--;
    this.total--;
    this.sync(uw);
    this.checkRoom();
  }

  /** `n` pending deliveries cancelled, `dropped` of them buffered. */
  cancelled(uw: UrlWindow, dropped: readonly Delivery[], n: number): void {
    uw.buffered -= dropped.length;
    for (const d of dropped) this.budget.remove(uw, this.costOf(d));
    uw.pending -= n;
    this.total -= n;
    this.sync(uw);
    this.checkRoom();
  }

  /** The URL became failing or paused (`true`) or healthy again. */
  setStalled(uw: UrlWindow, stalled: boolean): void {
    uw.stalled = stalled;
    this.sync(uw);
    if (stalled) this.checkRoom();
  }

  /**
   * Undefined when reading on is useful now, else a promise that resolves once it is (or the gate is
   * released). `urls`: those the next transaction may write to. Reading while they are all behind
   * would only write to the store what is read back later (work the catch-up cannot spare); the binlog
   * keeps it meanwhile.
   */
  roomFor(urls: ReadonlySet<string>): Promise<void> | undefined {
    if (this.released) return undefined;
    const full = this.full();
    if (full === undefined && !this.allBehind(urls, 1)) return undefined;
    return this.waitForRoom(urls, full);
  }

  /** Stops holding reading back, for good (shutdown: the reader must not wait on deliveries). */
  release(): void {
    this.released = true;
    this.endPoll?.();
    this.resolveRoom();
  }

  private async waitForRoom(urls: ReadonlySet<string>, full: Full | undefined): Promise<void> {
    if (full) await this.waitForBudget(full);
    if (this.released || !this.allBehind(urls, 1)) return;
    this.roomUrls = urls;
    this.roomWait ??= new Promise<void>((resolve) => (this.openRoom = resolve));
    await this.roomWait;
  }

  /** Waits, said in coded logs and ucw_source_paused, while a limit is reached after reclaiming. */
  private async waitForBudget(full: Full): Promise<void> {
    let why = await this.reclaimIfFull(full);
    if (!why) return;
    const { metrics, logger } = this.opts;
    const since = this.clock.now();
    metrics.sourcePaused.set(1);
    let reported: Full | undefined;
    while (!this.released && why) {
      if (why !== reported) this.report(why);
      reported = why;
      await this.poll();
      why = await this.reclaimIfFull(this.full(true));
    }
    metrics.sourcePaused.set(0);
    logger.info(
      { drainable: this.drainable, outboxBytes: this.bytes, pausedMs: this.clock.now() - since },
      'outbox below its limit: binlog reading resumed',
    );
  }

  private poll(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(resolve, POLL_INTERVAL_MS);
      this.endPoll = () => {
        timer.clear();
        resolve();
      };
    });
  }

  /** Which limit is reached, if any; `fresh` reads the store's size now. */
  private full(fresh = false): Full | undefined {
    if (this.drainable >= this.opts.maxPending) return 'pending';
    const now = this.clock.now();
    if (fresh || now - this.bytesAtMs >= BYTES_CHECK_MS) {
      this.bytes = this.opts.usedBytes();
      this.bytesAtMs = now;
      this.opts.metrics.outboxBytes.set(this.bytes);
    }
    return this.bytes >= this.opts.maxBytes ? 'bytes' : undefined;
  }

  /** At the disk budget: makes room from rows that have no work left, then reads the size again. */
  private async reclaimIfFull(why: Full | undefined): Promise<Full | undefined> {
    if (why !== 'bytes') return why;
    await this.opts.reclaim(() => this.full(true) === 'bytes');
    return this.full(true);
  }

  private report(why: Full): void {
    const { logger, maxPending, maxBytes } = this.opts;
    if (why === 'pending') {
      logger.warn(
        { code: 'UCW_WARN_OUTBOX_FULL' satisfies WarningCode, drainable: this.drainable, maxOutboxPending: maxPending },
        'outbox full: binlog reading paused until deliveries drain (nothing is dropped)',
      );
    } else {
      logger.warn(
        { code: 'UCW_WARN_OUTBOX_DISK_FULL' satisfies WarningCode, outboxBytes: this.bytes, maxOutboxBytes: maxBytes },
        'outbox store at --max-outbox-bytes with rows still to deliver (delivered and ' +
          'cancelled ones pruned for room): binlog reading paused (nothing is dropped) ' +
          'until a failing or paused receiver comes back and drains its backlog, or the ' +
          'backlog is dropped with `deliveries discard --url`; ' +
          'clearing a registration does not help meanwhile (the change is read only once there is room again)',
      );
    }
  }

  /**
   * Room for `uw` to buffer (bytes), at least `min` if others over their share can shed it: a URL
   * below its fair share takes it from them.
   */
  private roomFor1(uw: UrlWindow, min: number): number {
    const { budget } = this;
    const room = budget.roomOf(uw);
    if (room >= min) return room;
    const short = budget.shortfall(uw, Math.max(min, budget.maxBytes / SHED_FRACTION));
    if (short > 0) this.shedOthers(uw, short);
    return budget.roomOf(uw);
  }

  /** Whether `d` may be buffered for `uw` now (shedding others over their share if it is owed room). */
  private take(uw: UrlWindow, d: Delivery): boolean {
    const cost = this.costOf(d);
    // A URL with nothing buffered always takes one: it moves on, whatever a delivery's size.
    return this.roomFor1(uw, cost) >= cost || uw.buffered === 0;
  }

  /** Frees `bytes` from the URLs most over their share, the most first: their newest deliveries go back. */
  private shedOthers(taker: UrlWindow, bytes: number): void {
    const { budget } = this;
    const over = [...this.urls.values()].filter((o) => o !== taker && o.sink && budget.excessOf(o) > 0);
    over.sort((a, b) => budget.excessOf(b) - budget.excessOf(a));
    let left = bytes;
    for (const o of over) {
      if (left <= 0) return;
      const back = o.sink!.shed(
        Math.min(budget.excessOf(o), Math.max(left, budget.maxBytes / SHED_FRACTION)),
        this.costOf,
      );
      let lowest = Infinity;
      for (const d of back) {
        const cost = this.costOf(d);
        budget.remove(o, cost);
        left -= cost;
        lowest = Math.min(lowest, d.id);
      }
      if (back.length === 0) continue;
      o.buffered -= back.length;
      // What went back is all of o's buffered deliveries above some id: the rest are still a prefix.
      o.loadedUpTo = Math.min(o.loadedUpTo, lowest - 1);
      // A rewind (requeued deliveries) still below that goes on; one at or above it is covered already.
      if (o.rewindFrom !== undefined && o.rewindFrom >= o.loadedUpTo) o.rewindFrom = undefined;
      o.moreInStore = true;
      this.sync(o);
    }
  }

  /** Bytes of a minimal page for `uw`: MIN_PAGE deliveries, or a quarter of its limit if less. */
  private minPageBytes(uw: UrlWindow): number {
    return Math.min(MIN_PAGE * (this.meanCost || 1), this.budget.limitOf(uw) / 4);
  }

  private buffer(uw: UrlWindow, d: Delivery, sink: PageSink): void {
    const cost = this.costOf(d);
    this.meanCost = this.meanCost === 0 ? cost : this.meanCost + (cost - this.meanCost) / 64;
    sink.add(d);
    uw.buffered++;
    this.budget.add(uw, cost);
    if (d.id > uw.loadedUpTo) uw.loadedUpTo = d.id;
  }

  /** Brings the budget's view of `uw` (active, starving) up to date. */
  private sync(uw: UrlWindow): void {
    this.budget.set(uw, !uw.stalled && uw.pending > 0, uw.moreInStore);
  }

  /**
   * True when every URL of `urls` sends, with rows in the store or less than `pages` minimal pages of
   * room left in its limit.
   */
  private allBehind(urls: ReadonlySet<string>, pages: number): boolean {
    if (urls.size === 0) return false;
    for (const url of urls) {
      const uw = this.urls.get(url);
      if (!uw || uw.stalled) return false;
      if (uw.moreInStore) continue;
      if (uw.bytes < this.budget.limitOf(uw) - pages * this.minPageBytes(uw)) return false;
    }
    return true;
  }

  /** Lets waiting reading go on once some URL has room for a page (hysteresis: two pages' worth). */
  private checkRoom(): void {
    if (this.openRoom && !this.allBehind(this.roomUrls, 2)) this.resolveRoom();
  }

  private resolveRoom(): void {
    const resolve = this.openRoom;
    this.roomWait = undefined;
    this.openRoom = undefined;
    resolve?.();
  }
}
