// The outbox growth limit: before a source transaction is committed to the outbox, wait until the
// pending deliveries are below the limit. Reading is thereby paused (the listener stops the stream
// once its row budget fills), never dropped, and it resumes as deliveries drain. Said in logs and
// in the ucw_source_paused gauge.

import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';

const POLL_INTERVAL_MS = 100;

export class OutboxBudget {
  private stopped = false;

  constructor(
    private readonly maxPending: number,
    private readonly pending: () => number,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Resolves once there is room (or the bridge is stopping). */
  async waitForRoom(): Promise<void> {
    if (this.pending() < this.maxPending) return;
    const since = Date.now();
    this.metrics.sourcePaused.set(1);
    this.logger.warn(
      { code: 'UCW_WARN_OUTBOX_FULL', pending: this.pending(), maxOutboxPending: this.maxPending },
      'outbox full: binlog reading paused until deliveries drain (nothing is dropped)',
    );
    while (!this.stopped && this.pending() >= this.maxPending) await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    this.metrics.sourcePaused.set(0);
    this.logger.info({ pending: this.pending(), pausedMs: Date.now() - since }, 'outbox below its limit: binlog reading resumed');
  }

  stop(): void {
    this.stopped = true;
  }
}
