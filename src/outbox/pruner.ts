// Removes delivered and cancelled rows past retention without stalling the thread that reads the
// binlog: deletes in small batches (one short transaction each) with the event loop served between
// them, then gives the freed pages back to the file system a few at a time (incremental vacuum).
// Retention yields to the disk budget (reclaim()). Invariant: at most one pass runs at a time, and
// stop() returns only once it has ended.

import { setImmediate as turn } from 'node:timers/promises';
import type { WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StateStore } from './state-store.js';

/** Rows per delete transaction: a few milliseconds each (see test/integration/outbox-prune.test.ts). */
export const PRUNE_BATCH_ROWS = 200;
/** Pages (4 KiB) returned per incremental vacuum step. */
export const VACUUM_STEP_PAGES = 64;

export interface PrunerOptions {
  readonly outbox: Pick<StateStore, 'prune' | 'vacuumStep'>;
  /** Delivered and cancelled rows older than this are deleted (sooner when the disk budget needs their room). */
  readonly retentionMs: number;
  readonly intervalMs: number;
  /** The first pass, this long after start() (a bridge restarted more often than intervalMs still prunes). */
  readonly firstPassMs?: number;
  readonly now: () => number;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly batchRows?: number;
  readonly vacuumPages?: number;
}

export interface PruneResult {
  readonly pruned: number;
  /** Free pages left in the file after the pass (0 once all were returned). */
  readonly freePages: number;
}

export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult> | undefined;
  private stopped = false;

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
        return { pruned: 0, freePages: -1 };
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
        n = outbox.prune(Number.MAX_SAFE_INTEGER, batch);
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
    for (let n = batch; n === batch && !this.stopped;) {
      n = outbox.prune(cutoff, batch);
      pruned += n;
      await turn();
    }
    // A store whose switch to incremental vacuum failed keeps its free pages: stop when none go.
    let freePages = Number.MAX_SAFE_INTEGER;
    while (!this.stopped) {
      const left = outbox.vacuumStep(pages);
      if (left === 0 || left >= freePages) {
        freePages = left;
        break;
      }
      freePages = left;
      await turn();
    }
    if (pruned > 0)
      logger.info(
        { pruned, freePages, ms: Math.round(performance.now() - t0) },
        'pruned delivered events past retention',
      );
    return { pruned, freePages };
  }
}
