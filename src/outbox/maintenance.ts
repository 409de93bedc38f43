// Operations on the stored backlog as a whole, off the delivery hot path: counts, dead letters and their
// requeue, cancelling or discarding a URL's backlog, moving first attempts past a pause, pruning and
// vacuum, and the store's size. Invariant: each one that reads or rewrites deliveries writes the queued
// outcomes first, so none reports on or rewrites a delivery whose outcome still waits in memory.

import type { Database as Db, Statement } from 'better-sqlite3';
import type { WarningCode } from '../errors.js';
import { DeliveryStatus, type DeadLetter } from './records.js';

/** Deletes the deliveries `where` selects, then those of their events no delivery refers to any more. */
export function deleteDeliveries(db: Db, where: string, ...params: number[]): number {
  const seqs = db
    .prepare(`DELETE FROM deliveries WHERE ${where} RETURNING event_seq`)
    .pluck()
    .all(...params) as number[];
  const deleteEvent = db.prepare(
    'DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = ?)',
  );
  for (const seq of new Set(seqs)) deleteEvent.run(seq, seq);
  return seqs.length;
}

export class StoreMaintenance {
  private readonly db: Db;
  private readonly now: () => number;
  /** Writes the queued delivery outcomes (OutcomeWriter.flush). */
  private readonly flushOutcomes: () => void;
  private readonly stmts: {
    countByStatus: Statement;
    shiftFirstAttempts: Statement;
    cancelPending: Statement;
    cancelPendingOfEvents: Statement;
    countPending: Statement;
    countDead: Statement;
    countCancelled: Statement;
    pendingByUrl: Statement;
  };

  constructor(db: Db, now: () => number, flushOutcomes: () => void) {
    this.db = db;
    this.now = now;
    this.flushOutcomes = flushOutcomes;
    this.stmts = {
      countByStatus: db.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status'),
      // The pause counted from the later of a delivery's first attempt and the pause's start.
      shiftFirstAttempts: db.prepare(
        `UPDATE deliveries SET first_attempt_at_ms = first_attempt_at_ms + MAX(0, ? - MAX(first_attempt_at_ms, ?))
         WHERE url = ? AND status = ${DeliveryStatus.pending} AND first_attempt_at_ms IS NOT NULL`,
      ),
      cancelPending: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.cancelled}, last_error = ?, updated_at_ms = ?
         WHERE status = ${DeliveryStatus.pending} AND url = ? AND id NOT IN (SELECT value FROM json_each(?))`,
      ),
      cancelPendingOfEvents: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.cancelled}, last_error = ?, updated_at_ms = ?
         WHERE status = ${DeliveryStatus.pending} AND url = ? AND id NOT IN (SELECT value FROM json_each(?))
           AND event_seq IN (SELECT seq FROM events WHERE name IN (SELECT value FROM json_each(?)))`,
      ),
      countPending: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.pending}`).pluck(),
      countDead: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.dead}`).pluck(),
      countCancelled: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.cancelled}`).pluck(),
      pendingByUrl: db.prepare(
        `SELECT url, COUNT(*) AS n FROM deliveries WHERE status = ${DeliveryStatus.pending} GROUP BY url`,
      ),
    };
  }

  /**
   * A 410 pause of `url` that began at `pausedSinceMs` ends at `nowMs`: the first attempt time of its
   * pending deliveries moves on by the time paused since then, so the pause spends no age budget
   * (kept across restarts, and for deliveries not held in memory). Returns how many.
   */
  shiftFirstAttempts(url: string, pausedSinceMs: number, nowMs: number): number {
    this.flushOutcomes();
    return this.stmts.shiftFirstAttempts.run(nowMs, pausedSinceMs, url).changes;
  }

  /** Pending and dead-lettered deliveries, counted on their partial indexes (cheap at start-up). */
  backlog(): { pending: number; dead: number } {
    this.flushOutcomes();
    return {
      pending: this.stmts.countPending.get() as number,
      dead: this.stmts.countDead.get() as number,
    };
  }

  counts(): { pending: number; delivered: number; dead: number } {
    this.flushOutcomes();
    const out = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.stmts.countByStatus.all() as Array<{ status: number; n: number }>) {
      if (r.status === DeliveryStatus.pending) out.pending = r.n;
      else if (r.status === DeliveryStatus.delivered) out.delivered = r.n;
      else if (r.status === DeliveryStatus.dead) out.dead = r.n;
    }
    return out;
  }

  deadLetters(limit: number): DeadLetter[] {
    this.flushOutcomes();
    return this.db
      .prepare(
        `SELECT d.id, d.url, e.id AS eventId, e.name AS eventName, d.attempts, d.last_status AS lastStatus,
                d.last_error AS lastError, d.updated_at_ms AS updatedAtMs
         FROM deliveries d JOIN events e ON e.seq = d.event_seq 
         WHERE d.status = ${DeliveryStatus.dead} ORDER BY d.id LIMIT ?`,
      )
      .all(limit) as DeadLetter[];
  }

  /** Puts dead letters back in the queue with a fresh retry budget; returns how many. */
  requeueDead(ids?: readonly number[]): number {
    this.flushOutcomes();
    const now = this.now();
    const base = `UPDATE deliveries SET status = ${DeliveryStatus.pending}, attempts = 0, first_attempt_at_ms = NULL,
        next_attempt_at_ms = ?, updated_at_ms = ? WHERE status = ${DeliveryStatus.dead}`;
    if (!ids) return this.db.prepare(base).run(now, now).changes;
    const stmt = this.db.prepare(`${base} AND id = ?`);
    return this.db.transaction(() => ids.reduce((n, id) => n + stmt.run(now, now, id).changes, 0))();
  }

  /**
   * Deletes up to `limit` delivered rows older than the cut-off (oldest first, on their index), and
   * their events once no delivery is left, in one short transaction; returns how many. Pruner calls
   * it in batches so the event loop is served in between. Dead and cancelled rows are not touched
   * (they stay until retried or discarded, under --max-dead-rows).
   */
  prune(deliveredBeforeMs: number, limit: number): number {
    this.flushOutcomes();
    // `status IN (1, 4)` is the partial index deliveries_done's own term, so the planner uses it.
    return this.db.transaction(() =>
      deleteDeliveries(
        this.db,
        `id IN (SELECT id FROM deliveries WHERE status IN (1, 4) AND status = ${DeliveryStatus.delivered}
           AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?)`,
        deliveredBeforeMs,
        limit,
      ),
    )();
  }

  /** The store is at its disk budget: up to `limit` delivered or cancelled rows, oldest first, however recent. */
  pruneForRoom(limit: number): number {
    this.flushOutcomes();
    return this.db.transaction(() =>
      deleteDeliveries(
        this.db,
        'id IN (SELECT id FROM deliveries WHERE status IN (1, 4) ORDER BY updated_at_ms LIMIT ?)',
        limit,
      ),
    )();
  }

  /** Returns up to `pages` free pages to the file system (the file shrinks); returns the free pages left. */
  vacuumStep(pages: number): number {
    this.db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
    return this.db.pragma('freelist_count', { simple: true }) as number;
  }

  /**
   * Cancels the pending deliveries of `url` (of the events named, or all) except `keepIds` (in
   * flight): they are kept, with status `cancelled` and `reason` as last error. Returns how many.
   */
  cancelPending(url: string, events: readonly string[] | undefined, keepIds: Iterable<number>, reason: string): number {
    this.flushOutcomes();
    const keep = JSON.stringify([...keepIds]);
    if (events === undefined) return this.stmts.cancelPending.run(reason, this.now(), url, keep).changes;
    return this.stmts.cancelPendingOfEvents.run(reason, this.now(), url, keep, JSON.stringify(events)).changes;
  }

  /** Marks every pending delivery of `url` cancelled on purpose (`deliveries discard --url`); returns how many. */
  discardPending(url: string): number {
    return this.cancelPending(
      url,
      undefined,
      [],
      `${'UCW_WARN_DELIVERY_CANCELLED' satisfies WarningCode}: discarded by the operator`,
    );
  }

  /** Cancelled deliveries kept in the store (a scan: for inspection, not the hot path). */
  cancelledCount(): number {
    this.flushOutcomes();
    return this.stmts.countCancelled.get() as number;
  }

  /** Pending deliveries per URL (the dispatcher's start-up), on the pending index. */
  pendingByUrl(): Map<string, number> {
    this.flushOutcomes();
    const rows = this.stmts.pendingByUrl.all() as Array<{ url: string; n: number }>;
    return new Map(rows.map((r) => [r.url, r.n]));
  }

  /** Bytes the store's data takes (pages in use, the write-ahead log's included; free pages not). */
  usedBytes(): number {
    const pages =
      (this.db.pragma('page_count', { simple: true }) as number) -
      (this.db.pragma('freelist_count', { simple: true }) as number);
    return pages * (this.db.pragma('page_size', { simple: true }) as number);
  }
}
