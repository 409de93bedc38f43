// The flow-control window, the one gate on reading the binlog. Per URL, at most maxBufferedPerUrl
// deliveries are buffered in memory; the rest wait in the state store and are paged in, in id order,
// as buffered ones finish (ids only grow, so the buffered ones are a prefix of a URL's pending ones).
// Reading waits (roomFor) while the deliveries that can drain reach --max-outbox-pending, while the
// store is at --max-outbox-bytes after delivered and cancelled rows were pruned for room, or while
// every URL of the transaction is behind (buffer nearly full or rows waiting in the store). A failing
// or paused URL drains nothing and is never behind: its backlog goes to the store, never holds reading.

import type { WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, StateStore } from '../outbox/state-store.js';
import { systemClock, type Clock } from './clock.js';

/** The window need only keep the sender busy while reading waits for it (bench/RESULTS.md). */
export const DEFAULT_MAX_BUFFERED_PER_URL = 10_000;
/** Deliveries read from the store per page. */
const PAGE_SIZE = 2_000;
/** Fewest deliveries a page is read for: one query per finished delivery would cost the thread. */
const MIN_PAGE = PAGE_SIZE / 4;
/** A URL with rows in the store pages more in when fewer keys than this are ready. */
const REFILL_BELOW_READY_KEYS = 256;
/** How often a budget-full wait checks again. */
const POLL_INTERVAL_MS = 100;
/** The store's size is read at most this often while there is room (it is checked per transaction). */
export const BYTES_CHECK_MS = 100;

/** The window's account of one URL. */
export interface UrlWindow {
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
}

/** Where paged-in deliveries go (a URL's key queues). */
export interface PageSink {
  readonly readyCount: number;
  add(d: Delivery): void;
  /** Ids of the deliveries it holds (a rewound page skips them). */
  heldIds?(): ReadonlySet<number>;
}

export interface FlowWindowOptions {
  readonly store: Pick<StateStore, 'pendingPage'> & Partial<Pick<StateStore, 'flushOutcomes'>>;
  readonly maxBufferedPerUrl?: number;
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
  readonly maxBuffered: number;
  private readonly minPage: number;
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
    this.maxBuffered = Math.max(1, opts.maxBufferedPerUrl ?? DEFAULT_MAX_BUFFERED_PER_URL);
    this.minPage = Math.max(1, Math.min(MIN_PAGE, Math.floor(this.maxBuffered / 4)));
    this.clock = opts.clock ?? systemClock;
  }

  /** Pending deliveries, buffered or in the store. */
  get pending(): number {
    return this.total;
  }

  /** Pending deliveries of URLs neither failing nor paused: those that drain. */
  get drainable(): number {
    let n = this.total;
    for (const uw of this.urls.values()) if (uw.stalled) n -= uw.pending;
    return n;
  }

  /** The account of `url`, opened on first use. */
  open(url: string): UrlWindow {
    let uw = this.urls.get(url);
    if (!uw) {
      uw = { url, pending: 0, buffered: 0, loadedUpTo: 0, moreInStore: false, stalled: false };
      this.urls.set(url, uw);
    }
    return uw;
  }

  /** Start-up: `total` pending deliveries in the store, `byUrl` of them per URL; each URL pages one in. */
  restore(total: number, byUrl: ReadonlyMap<string, number>, sinkOf: (uw: UrlWindow) => PageSink): void {
    this.total = total;
    for (const [url, n] of byUrl) {
      const uw = this.open(url);
      uw.pending = n;
      uw.moreInStore = true;
      this.refill(uw, sinkOf(uw), true);
    }
  }

  /** A delivery just committed: buffered, unless the URL has rows waiting in the store (they go first). */
  committed(uw: UrlWindow, d: Delivery, sink: PageSink): void {
    this.total++;
    uw.pending++;
    if (uw.stalled || uw.moreInStore || uw.buffered >= this.maxBuffered) uw.moreInStore = true;
    else this.buffer(uw, d, sink);
  }

  /** Parts of a large transaction stored before its commit: they wait in the store. */
  staged(uw: UrlWindow, n: number): void {
    uw.moreInStore = true;
    uw.pending += n;
    this.total += n;
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
  }

  /**
   * Pages store rows in while few keys are ready and the buffer allows. A stalled URL pages nothing
   * (it sends nothing) unless `force`: a probe with nothing buffered.
   */
  refill(uw: UrlWindow, sink: PageSink, force = false): void {
    if (uw.stalled && !force) return;
    while (
      uw.moreInStore &&
      this.maxBuffered - uw.buffered >= (force ? 1 : this.minPage) &&
      (force || sink.readyCount < REFILL_BELOW_READY_KEYS)
    ) {
      const want = Math.min(PAGE_SIZE, this.maxBuffered - uw.buffered);
      if (uw.rewindFrom !== undefined) this.pageRewound(uw, sink, want);
      else {
        const page = this.opts.store.pendingPage(uw.url, uw.loadedUpTo, want);
        for (const d of page) this.buffer(uw, d, sink);
        if (page.length < want) uw.moreInStore = false;
      }
      if (force) break;
    }
  }

  /** One page from `rewindFrom`, skipping held deliveries; the rewind ends once past `loadedUpTo`. */
  private pageRewound(uw: UrlWindow, sink: PageSink, want: number): void {
    // A delivery finished a moment ago may still read as pending until its outcome is written.
    this.opts.store.flushOutcomes?.();
    const held = sink.heldIds?.() ?? new Set<number>();
    const page = this.opts.store.pendingPage(uw.url, uw.rewindFrom!, want);
    const below = uw.loadedUpTo;
    for (const d of page) if (!held.has(d.id)) this.buffer(uw, d, sink);
    const last = page.length > 0 ? page[page.length - 1]!.id : Infinity;
    uw.rewindFrom = last >= below ? undefined : last;
    if (page.length < want) {
      uw.rewindFrom = undefined;
      uw.moreInStore = false;
    }
  }

  /** A buffered delivery is finished (delivered, dead, cancelled). */
  finished(uw: UrlWindow): void {
    uw.buffered--;
    uw.pending--;
    this.total--;
    this.checkRoom();
  }

  /** `n` pending deliveries cancelled, `dropped` of them buffered. */
  cancelled(uw: UrlWindow, dropped: number, n: number): void {
    uw.buffered -= dropped;
    uw.pending -= n;
    this.total -= n;
    this.checkRoom();
  }

  /** The URL became failing or paused (`true`) or healthy again. */
  setStalled(uw: UrlWindow, stalled: boolean): void {
    uw.stalled = stalled;
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
    if (full === undefined && !this.allBehind(urls, this.maxBuffered - this.minPage)) return undefined;
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
    if (this.released || !this.allBehind(urls, this.maxBuffered - this.minPage)) return;
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

  private buffer(uw: UrlWindow, d: Delivery, sink: PageSink): void {
    sink.add(d);
    uw.buffered++;
    if (d.id > uw.loadedUpTo) uw.loadedUpTo = d.id;
  }

  /** True when every URL of `urls` sends, with `buffered >= threshold` or rows in the store. */
  private allBehind(urls: ReadonlySet<string>, threshold: number): boolean {
    if (urls.size === 0) return false;
    for (const url of urls) {
      const uw = this.urls.get(url);
      if (!uw || uw.stalled || (!uw.moreInStore && uw.buffered < threshold)) return false;
    }
    return true;
  }

  /** Lets waiting reading go on once some URL has room for a page (hysteresis: two pages' worth). */
  private checkRoom(): void {
    if (this.openRoom && !this.allBehind(this.roomUrls, this.maxBuffered - 2 * this.minPage)) this.resolveRoom();
  }

  private resolveRoom(): void {
    const resolve = this.openRoom;
    this.roomWait = undefined;
    this.openRoom = undefined;
    resolve?.();
  }
}
