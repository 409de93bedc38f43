// The outbox growth limits: before a source transaction is committed to the outbox, wait until the
// deliveries that can drain (pending for URLs that are not held) are below --max-outbox-pending and
// the store takes less than --max-outbox-bytes. A held URL (paused after a 410, or failing) cannot
// drain, so its backlog counts only against the disk budget and never stalls the other URLs. At the
// disk budget, delivered and cancelled rows are pruned first (retention yields): only rows with work
// left can hold reading. Reading is paused, never dropped; said in coded logs and ucw_source_paused.

import type { WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';

const POLL_INTERVAL_MS = 100;
/**
 * The store's size is read at most this often while there is room (the check runs per source
 * transaction): the store may pass the budget by what is written meanwhile.
 */
export const BYTES_CHECK_MS = 100;

export interface OutboxBudgetOptions {
  readonly maxPending: number;
  readonly maxBytes: number;
  /** Pending deliveries of URLs that are not held: those that drain as receivers answer. */
  readonly drainable: () => number;
  /** Bytes the store takes. */
  readonly usedBytes: () => number;
  /** Deletes delivered and cancelled rows, oldest first, while `stillFull()` (Pruner.reclaim). */
  readonly reclaim: (stillFull: () => boolean) => Promise<unknown>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

type Full = 'pending' | 'bytes';

export class OutboxBudget {
  private stopped = false;
  private bytes = 0;
  private bytesAtMs = -Infinity;
  private readonly now: () => number;

  constructor(private readonly opts: OutboxBudgetOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Which limit is reached, if any; `fresh` reads the store's size now. */
  full(fresh = false): Full | undefined {
    const { maxPending, maxBytes, drainable, usedBytes, metrics } = this.opts;
    if (drainable() >= maxPending) return 'pending';
    const now = this.now();
    if (fresh || now - this.bytesAtMs >= BYTES_CHECK_MS) {
      this.bytes = usedBytes();
      this.bytesAtMs = now;
      metrics.outboxBytes.set(this.bytes);
    }
    return this.bytes >= maxBytes ? 'bytes' : undefined;
  }

  /** Resolves once there is room (or the bridge is stopping). */
  async waitForRoom(): Promise<void> {
    let why = await this.reclaimIfFull(this.full());
    if (!why) return;
    const { metrics, logger } = this.opts;
    const since = this.now();
    metrics.sourcePaused.set(1);
    let reported: Full | undefined;
    while (!this.stopped && why) {
      if (why !== reported) this.report(why);
      reported = why;
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
      why = await this.reclaimIfFull(this.full(true));
    }
    metrics.sourcePaused.set(0);
    logger.info({ drainable: this.opts.drainable(), outboxBytes: this.bytes, pausedMs: this.now() - since }, 'outbox below its limit: binlog reading resumed');
  }

  /** At the disk budget: makes room from rows that have no work left, then reads the size again. */
  private async reclaimIfFull(why: Full | undefined): Promise<Full | undefined> {
    if (why !== 'bytes') return why;
    await this.opts.reclaim(() => this.full(true) === 'bytes');
    return this.full(true);
  }

  stop(): void {
    this.stopped = true;
  }

  private report(why: Full): void {
    const { logger, maxPending, maxBytes } = this.opts;
    if (why === 'pending') {
      logger.warn(
        { code: 'UCW_WARN_OUTBOX_FULL' satisfies WarningCode, drainable: this.opts.drainable(), maxOutboxPending: maxPending },
        'outbox full: binlog reading paused until deliveries drain (nothing is dropped)',
      );
    } else {
      logger.warn(
        { code: 'UCW_WARN_OUTBOX_DISK_FULL' satisfies WarningCode, outboxBytes: this.bytes, maxOutboxBytes: maxBytes },
        'outbox store at --max-outbox-bytes with rows still to deliver (delivered and cancelled ones pruned for room): binlog reading paused (nothing is dropped) ' +
          'until a failing or paused receiver comes back and drains its backlog, or the backlog is dropped with `deliveries discard --url` while the bridge is stopped; ' +
          'clearing a registration does not help meanwhile (the change is read only once there is room again)',
      );
    }
  }
}
