// Removes delivered rows past retention, and the oldest dead and cancelled rows beyond their cap,
// without stalling the thread that reads the binlog: deletes in small batches (one short transaction
// each) with the event loop served between them, then gives the freed pages back to the file system a
// few at a time (incremental vacuum). Retention yields to the disk budget (reclaim(): delivered and
// cancelled rows, however recent). Invariant: at most one pass runs at a time, and stop() returns only
// once it has ended.

import { setImmediate as turn } from 'node:timers/promises';
import type { WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DeliveryQueries } from './delivery-queries.js';
import type { StateStore } from './state-store.js';

/** Rows per delete transaction: a few milliseconds each (see test/integration/outbox-prune.test.ts). */
export const PRUNE_BATCH_ROWS = 200;
/** Pages (4 KiB) returned per incremental vacuum step. */
export const VACUUM_STEP_PAGES = 64;

/** The cap on dead and cancelled rows (--max-dead-rows): beyond it the oldest are deleted. */
export interface DeadRowCap {
  readonly max: number;
  readonly store: Pick<DeliveryQueries, 'deadAndCancelled' | 'pruneOldestDead'>;
  /** Counts what the cap deleted (ucw_dead_rows_pruned_total). */
  readonly onPruned: (n: { dead: number; cancelled: number }) => void;
}

export interface PrunerOptions {
  readonly outbox: Pick<StateStore, 'prune' | 'vacuumStep'> & Partial<Pick<StateStore, 'pruneForRoom'>>;
  /** Delivered rows older than this are deleted (sooner, with cancelled ones, when the disk budget needs room). */
  readonly retentionMs: number;
  readonly deadCap?: DeadRowCap;
  readonly intervalMs: number;
  /** The first pass, this long after start() (a bridge restarted more often than intervalMs still prunes). */
  readonly firstPassMs?: number;
  readonly now: () => number;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly batchRows?: number;
  readonly vacuumPages?: number;
}

export interface PruneResult {
  /** Delivered rows deleted past retention. */
  readonly pruned: number;
  /** Dead and cancelled rows deleted over the cap. */
  readonly deadPruned: number;
  /** The longest single delete transaction of the pass (ms): how long the event loop was held at most. */
  readonly longestBatchMs: number;
  /** Free pages left in the file after the pass (0 once all were returned). */
  readonly freePages: number;
}

export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult> | undefined;
  private stopped = false;
  /** The cap's first deletion is a warning; later passes log at info (it keeps applying). */
  private deadCapWarned = false;

  constructor(private readonly opts: PrunerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
    if (this.opts.firstPassMs !== undefined) {
      this.first = setTimeout(() => void this.runOnce(), this.opts.firstPassMs);
      this.first.unref();
    }
  }

  /** One pass now (or the one already running). A failed pass is logged and tried again next interval. */
  runOnce(): Promise<PruneResult> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.opts.logger.warn(
          { code: 'UCW_WARN_OUTBOX_PRUNE' satisfies WarningCode, err },
          'pruning the state store failed; tried again at the next interval',
        );
        return { pruned: 0, deadPruned: 0, longestBatchMs: 0, freePages: -1 };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Ends the schedule and waits for a running pass to stop at its next batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.first);
    await this.running;
  }

  /**
   * The store is at its disk budget: deletes delivered and cancelled rows oldest-first regardless of
   * retention, in the same batches, while `stillFull()`. Their pages count as free at once (no
   * vacuum needed for the budget). Returns how many; a failure is logged and counts as none.
   */
  async reclaim(stillFull: () => boolean): Promise<number> {
    const { outbox, logger } = this.opts;
    const batch = this.opts.batchRows ?? PRUNE_BATCH_ROWS;
    const t0 = performance.now();
    let pruned = 0;
    try {
      for (let n = batch; n === batch && !this.stopped && stillFull();) {
        n = outbox.pruneForRoom ? outbox.pruneForRoom(batch) : outbox.prune(Number.MAX_SAFE_INTEGER, batch);
        pruned += n;
        await turn();
      }
    } catch (err) {
      logger.warn(
        { code: 'UCW_WARN_OUTBOX_PRUNE', err },
        'pruning the state store for room failed; tried again while it is full',
      );
    }
    if (pruned > 0) {
      logger.info(
        { pruned, ms: Math.round(performance.now() - t0) },
        'state store at --max-outbox-bytes: delivered and cancelled rows pruned ahead of retention',
      );
    }
    return pruned;
  }

  private async pass(): Promise<PruneResult> {
    const { outbox, logger } = this.opts;
    const batch = this.opts.batchRows ?? PRUNE_BATCH_ROWS;
    const pages = this.opts.vacuumPages ?? VACUUM_STEP_PAGES;
    const cutoff = this.opts.now() - this.opts.retentionMs;
    const t0 = performance.now();
    let pruned = 0;
    let longest = 0;
    const timed = <T>(fn: () => T): T => {
      const at = performance.now();
      try {
        return fn();
      } finally {
        longest = Math.max(longest, performance.now() - at);
      }
    };
    for (let n = batch; n === batch && !this.stopped;) {
      n = timed(() => outbox.prune(cutoff, batch));
      pruned += n;
      await turn();
    }
    const deadPruned = await this.capDead(batch, timed);
    // A store whose switch to incremental vacuum failed keeps its free pages: stop when none go.
    let freePages = Number.MAX_SAFE_INTEGER;
    while (!this.stopped) {
      const left = timed(() => outbox.vacuumStep(pages));
      if (left === 0 || left >= freePages) {
        freePages = left;
        break;
      }
      freePages = left;
      await turn();
    }
    const longestBatchMs = Math.round(longest * 10) / 10;
    if (pruned > 0)
      logger.info(
        { pruned, freePages, longestBatchMs, ms: Math.round(performance.now() - t0) },
        'pruned delivered events past retention',
      );
    return { pruned, deadPruned, longestBatchMs, freePages };
  }

  /** Deletes the oldest dead and cancelled rows beyond --max-dead-rows; returns how many. */
  private async capDead(batch: number, timed: <T>(fn: () => T) => T): Promise<number> {
    const cap = this.opts.deadCap;
    if (!cap) return 0;
    const kept = timed(() => cap.store.deadAndCancelled());
    let excess = kept - cap.max;
    const total = { dead: 0, cancelled: 0 };
    while (excess > 0 && !this.stopped) {
      const n = timed(() => cap.store.pruneOldestDead(Math.min(batch, excess)));
      if (n.dead + n.cancelled === 0) break;
      total.dead += n.dead;
      total.cancelled += n.cancelled;
      excess -= n.dead + n.cancelled;
      cap.onPruned(n);
      await turn();
    }
    const deleted = total.dead + total.cancelled;
    if (deleted > 0) {
      const fields = { code: 'UCW_WARN_OUTBOX_DEAD_CAP' satisfies WarningCode, ...total, maxDeadRows: cap.max };
      const msg =
        'dead and cancelled deliveries over --max-dead-rows: the oldest were deleted ' +
        '(retry or discard them sooner, or raise the cap)';
      if (this.deadCapWarned) this.opts.logger.info(fields, msg);
      else this.opts.logger.warn(fields, msg);
      this.deadCapWarned = true;
    }
    return deleted;
  }
}
