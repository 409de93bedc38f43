// Delivery outcomes (delivered, retry, dead, gone, cancelled), written in batches: those of up to
// OUTCOME_FLUSH_MS (or OUTCOME_FLUSH_MAX outcomes) in one SQLite transaction. Invariant: every read that
// reports on outcomes flushes first; an outcome lost in a crash only means that delivery is sent again
// with the same webhook-id, which at-least-once allows.

import type { Database as Db, Statement } from 'better-sqlite3';
import { DeliveryStatus } from './records.js';
import { LAST_SUCCESS_UPSERT_SQL } from './schema.js';

/** Delivery outcomes are written at most this long after they are known (ms)... */
const OUTCOME_FLUSH_MS = 20;
/** ...or as soon as this many are queued. */
const OUTCOME_FLUSH_MAX = 2_000;

// Outcomes are written in batches because each SQLite transaction costs a WAL page write (the figures
// are in bench/RESULTS.md).
export class OutcomeWriter {
  private readonly db: Db;
  private readonly now: () => number;
  private readonly stmts: {
    markDelivered: Statement;
    markRetry: Statement;
    markDead: Statement;
    markCancelled: Statement;
  };
  private outcomes: Array<() => void> = [];
  /** Each URL's latest delivered outcome time in the queued batch: one last_success write per URL. */
  private lastSuccess = new Map<string, number>();
  /** Deliveries with a queued outcome: reading one of them flushes first. */
  private readonly queuedIds = new Set<number>();
  private flushScheduled = false;
  private markGoneStmt: Statement | undefined;
  /** Prepared on first use: a read-only open of a store not migrated yet has no last_success. */
  private lastSuccessStmt: Statement | undefined;

  constructor(db: Db, now: () => number) {
    this.db = db;
    this.now = now;
    this.stmts = {
      markDelivered: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.delivered}, attempts = attempts + 1, last_status = ?,
           last_error = NULL,
           first_attempt_at_ms = COALESCE(first_attempt_at_ms, ?), updated_at_ms = ? WHERE id = ?`,
      ),
      markRetry: db.prepare(
        `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at_ms = ?, last_status = ?, last_error = ?,
           first_attempt_at_ms = COALESCE(first_attempt_at_ms, ?), updated_at_ms = ? WHERE id = ?`,
      ),
      markDead: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.dead}, attempts = attempts + 1, last_status = ?,
           last_error = ?,
           first_attempt_at_ms = COALESCE(first_attempt_at_ms, ?), updated_at_ms = ? WHERE id = ?`,
      ),
      markCancelled: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.cancelled}, last_error = ?, updated_at_ms = ?
         WHERE id = ? AND status = ${DeliveryStatus.pending}`,
      ),
    };
  }

  /** Whether a delivery with an id above `id` has an outcome not written yet (at most a batch to look at). */
  anyQueuedAbove(id: number): boolean {
    for (const q of this.queuedIds) if (q > id) return true;
    return false;
  }

  /** Whether delivery `id` has an outcome not written yet. */
  isQueued(id: number): boolean {
    return this.queuedIds.has(id);
  }

  markDelivered(id: number, url: string, status: number, attemptStartedAtMs: number): void {
    const at = this.now();
    this.lastSuccess.set(url, at);
    this.queueOutcome(id, () => this.stmts.markDelivered.run(status, attemptStartedAtMs, at, id));
  }

  markRetry(
    id: number,
    nextAttemptAtMs: number,
    status: number | null,
    error: string,
    attemptStartedAtMs: number,
  ): void {
    const at = this.now();
    this.queueOutcome(id, () => this.stmts.markRetry.run(nextAttemptAtMs, status, error, attemptStartedAtMs, at, id));
  }

  markDead(id: number, status: number | null, error: string, attemptStartedAtMs: number): void {
    const at = this.now();
    this.queueOutcome(id, () => this.stmts.markDead.run(status, error, attemptStartedAtMs, at, id));
  }

  /**
   * A 410 Gone answer: the delivery waits for the URL's pause to end. Not counted in `attempts`, nor
   * its first attempt time: a 410 spends no retry budget.
   */
  markGone(id: number, nextAttemptAtMs: number, status: number, error: string): void {
    const at = this.now();
    this.markGoneStmt ??= this.db.prepare(
      'UPDATE deliveries SET next_attempt_at_ms = ?, last_status = ?, last_error = ?, updated_at_ms = ? WHERE id = ?',
    );
    const stmt = this.markGoneStmt;
    this.queueOutcome(id, () => stmt.run(nextAttemptAtMs, status, error, at, id));
  }

  /** A delivery whose registration was removed while it was in flight, and not delivered: cancelled. */
  markCancelled(id: number, reason: string): void {
    const at = this.now();
    this.queueOutcome(id, () => this.stmts.markCancelled.run(reason, at, id));
  }

  /** Writes the queued delivery outcomes now (reads that report on them call it first). */
  flush(): void {
    this.flushScheduled = false;
    if (this.outcomes.length === 0 || !this.db.open) return;
    const batch = this.outcomes;
    const lastSuccess = this.lastSuccess;
    this.outcomes = [];
    this.lastSuccess = new Map();
    this.queuedIds.clear();
    this.db.transaction(() => {
      for (const write of batch) write();
      if (lastSuccess.size === 0) return;
      this.lastSuccessStmt ??= this.db.prepare(LAST_SUCCESS_UPSERT_SQL);
      for (const [url, at] of lastSuccess) this.lastSuccessStmt.run(url, at);
    })();
  }

  private queueOutcome(id: number, write: () => void): void {
    this.outcomes.push(write);
    this.queuedIds.add(id);
    if (this.outcomes.length >= OUTCOME_FLUSH_MAX) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setTimeout(() => this.flush(), OUTCOME_FLUSH_MS).unref();
    }
  }
}
