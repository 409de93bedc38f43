// The operator's queries over stored deliveries (`deliveries list|show|retry`, GET /api/deliveries) and
// the cap on dead and cancelled rows. Off the delivery hot path. Invariant: every query flushes the
// queued outcomes first, and a requeue touches only dead or cancelled rows, keeping their ids (so the
// same webhook-id goes out again) and giving them a fresh retry budget.

import type { Database as Db } from 'better-sqlite3';
import { DeliveryStatus } from './records.js';

/**
 * What an operator sees of a delivery. `retrying`: pending after at least one failed attempt;
 * `cancelled`: its registration was removed or its backlog discarded (`discarded` is the same state).
 */
export const DELIVERY_STATES = ['pending', 'retrying', 'delivered', 'dead', 'cancelled'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** Which deliveries a query or action is about (every field optional; combined with AND). */
export interface DeliveryFilter {
  /** The registered URL, exactly as in the webhooks table. */
  readonly url?: string;
  readonly event?: string;
  readonly states?: readonly DeliveryState[];
  /** Enqueued at or after (ms since the epoch). */
  readonly sinceMs?: number;
  /** Enqueued before (ms since the epoch). */
  readonly untilMs?: number;
  readonly ids?: readonly number[];
}

/** One delivery as `deliveries list` shows it (no event body). */
export interface DeliverySummary {
  readonly id: number;
  readonly url: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly nextAttemptAtMs: number;
}

/** One delivery as `deliveries show` prints it: with its event body (personal data). */
export interface DeliveryDetail extends DeliverySummary {
  readonly orderKey: string;
  readonly occurredAtMs: number;
  readonly firstAttemptAtMs: number | null;
  readonly source: { readonly file: string; readonly pos: number };
  readonly body: string;
}

/** How far one `list` walks: windows of `windowRows` ids, newest first, `maxRows` ids in all. */
export interface ListBound {
  readonly windowRows: number;
  readonly maxRows: number;
}

/** The default bound: a selective filter costs at most a walk over 200,000 ids, in short steps. */
export const LIST_BOUND: ListBound = { windowRows: 10_000, maxRows: 200_000 };

/** A `list` answer; `cut`: the walk stopped at its bound, so more matches may exist with lower ids. */
export interface DeliveryPage {
  readonly deliveries: DeliverySummary[];
  readonly cut?: { readonly examinedRows: number; readonly belowId: number };
}

/** Deliveries put back in the queue, per URL: how many, and the lowest id (delivery pages from there). */
export interface Requeued {
  readonly total: number;
  /** How many of them were dead letters (the rest were cancelled). */
  readonly dead: number;
  readonly byUrl: Map<string, { n: number; minId: number }>;
}

const STATE_SQL: Record<DeliveryState, string> = {
  pending: `(d.status = ${DeliveryStatus.pending} AND d.attempts = 0)`,
  retrying: `(d.status = ${DeliveryStatus.pending} AND d.attempts > 0)`,
  delivered: `d.status = ${DeliveryStatus.delivered}`,
  dead: `d.status = ${DeliveryStatus.dead}`,
  cancelled: `d.status = ${DeliveryStatus.cancelled}`,
};

const STATE_CASE = `CASE d.status WHEN ${DeliveryStatus.pending} THEN CASE WHEN d.attempts > 0 THEN 'retrying'
  ELSE 'pending' END WHEN ${DeliveryStatus.delivered} THEN 'delivered' WHEN ${DeliveryStatus.dead} THEN 'dead'
  ELSE 'cancelled' END`;

const SUMMARY_COLUMNS = `d.id, d.url, e.id AS eventId, e.name AS eventName, ${STATE_CASE} AS state, d.attempts,
  d.last_status AS lastStatus, d.last_error AS lastError, d.created_at_ms AS createdAtMs,
  d.updated_at_ms AS updatedAtMs, d.next_attempt_at_ms AS nextAttemptAtMs`;

/** The WHERE clause of a filter (never staged rows: they belong to a transaction not committed yet). */
function whereOf(f: DeliveryFilter, states?: readonly DeliveryState[]): { sql: string; params: unknown[] } {
  const terms = [`d.status <> ${DeliveryStatus.staged}`];
  const params: unknown[] = [];
  if (f.url !== undefined) {
    terms.push('d.url = ?');
    params.push(f.url);
  }
  if (f.event !== undefined) {
    terms.push('e.name = ?');
    params.push(f.event);
  }
  const s = states ?? f.states;
  if (s && s.length > 0) terms.push(`(${s.map((x) => STATE_SQL[x]).join(' OR ')})`);
  if (f.sinceMs !== undefined) {
    terms.push('d.created_at_ms >= ?');
    params.push(f.sinceMs);
  }
  if (f.untilMs !== undefined) {
    terms.push('d.created_at_ms < ?');
    params.push(f.untilMs);
  }
  if (f.ids && f.ids.length > 0) {
    terms.push('d.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(f.ids));
  }
  return { sql: terms.join(' AND '), params };
}

/** What `retry` may requeue: dead letters by default, cancelled ones when asked (or named by id). */
export function requeueStates(f: DeliveryFilter): DeliveryState[] {
  if (f.states && f.states.length > 0) return f.states.filter((s) => s === 'dead' || s === 'cancelled');
  return f.ids && f.ids.length > 0 ? ['dead', 'cancelled'] : ['dead'];
}

export class DeliveryQueries {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    private readonly flushOutcomes: () => void,
  ) {}

  /**
   * Newest first, at most `limit`. Walks the ids downward in windows (a primary-key range each), so a
   * filter that matches few rows examines at most `bound.maxRows` ids instead of the whole table.
   */
  list(f: DeliveryFilter, limit: number, bound: ListBound = LIST_BOUND): DeliveryPage {
    this.flushOutcomes();
    const w = whereOf(f);
    const sql = `SELECT ${SUMMARY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE ${w.sql}`;
    // Named ids are a bounded set already: one query.
    if (f.ids && f.ids.length > 0)
      return { deliveries: this.db.prepare(`${sql} ORDER BY d.id DESC LIMIT ?`).all(...w.params, limit) as never };
    const range = this.db.prepare('SELECT MIN(id) AS lo, MAX(id) AS hi FROM deliveries').get() as {
      lo: number | null;
      hi: number | null;
    };
    const window = this.db.prepare(`${sql} AND d.id <= ? AND d.id > ? ORDER BY d.id DESC LIMIT ?`);
    const deliveries: DeliverySummary[] = [];
    let examined = 0;
    let top = range.hi ?? 0;
    const lo = range.lo ?? 1;
    while (top >= lo && deliveries.length < limit) {
      if (examined >= bound.maxRows) return { deliveries, cut: { examinedRows: examined, belowId: top + 1 } };
      const size = Math.min(bound.windowRows, bound.maxRows - examined);
      const rows = window.all(...w.params, top, top - size, limit - deliveries.length) as DeliverySummary[];
      deliveries.push(...rows);
      examined += size;
      top -= size;
    }
    return { deliveries };
  }

  show(id: number): DeliveryDetail | undefined {
    this.flushOutcomes();
    const row = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS}, e.order_key AS orderKey, e.occurred_at_ms AS occurredAtMs,
           d.first_attempt_at_ms AS firstAttemptAtMs, e.source_file AS sourceFile, e.source_pos AS sourcePos, e.body
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.id = ? AND d.status <> ${DeliveryStatus.staged}`,
      )
      .get(id) as (Omit<DeliveryDetail, 'source'> & { sourceFile: string; sourcePos: number }) | undefined;
    if (!row) return undefined;
    const { sourceFile, sourcePos, ...rest } = row;
    return { ...rest, source: { file: sourceFile, pos: sourcePos } };
  }

  /**
   * Dead (and, when the filter says so, cancelled) deliveries back to pending with a fresh retry
   * budget, ids unchanged, in one transaction. The last error stays until the next attempt (audit).
   */
  requeue(f: DeliveryFilter): Requeued {
    this.flushOutcomes();
    const states = requeueStates(f);
    const out: Requeued = { total: 0, dead: 0, byUrl: new Map() };
    if (states.length === 0) return out;
    const w = whereOf(f, states);
    const now = this.now();
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(`SELECT d.id, d.url, d.status FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE ${w.sql}`)
        .all(...w.params) as Array<{ id: number; url: string; status: number }>;
      this.db
        .prepare(
          `UPDATE deliveries SET status = ${DeliveryStatus.pending}, attempts = 0, first_attempt_at_ms = NULL,
             next_attempt_at_ms = ?, updated_at_ms = ? WHERE id IN (SELECT value FROM json_each(?))`,
        )
        .run(now, now, JSON.stringify(rows.map((r) => r.id)));
      for (const r of rows) {
        const u = out.byUrl.get(r.url);
        if (!u) out.byUrl.set(r.url, { n: 1, minId: r.id });
        else {
          u.n++;
          u.minId = Math.min(u.minId, r.id);
        }
      }
      return {
        total: rows.length,
        dead: rows.filter((r) => r.status === DeliveryStatus.dead).length,
        byUrl: out.byUrl,
      };
    })();
  }

  /**
   * The pending deliveries of `url` waiting for a later time (a 410 pause's end, a retry time) are due
   * now: the operator resumed the URL. Returns how many.
   */
  makeDue(url: string): number {
    this.flushOutcomes();
    const now = this.now();
    return this.db
      .prepare(
        `UPDATE deliveries SET next_attempt_at_ms = ? WHERE url = ? AND status = ${DeliveryStatus.pending}
           AND next_attempt_at_ms > ?`,
      )
      .run(now, url, now).changes;
  }

  /** Dead and cancelled rows kept (on their partial indexes). */
  deadAndCancelled(): number {
    this.flushOutcomes();
    return this.db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.dead}) +
                (SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.cancelled})`,
      )
      .pluck()
      .get() as number;
  }

  /**
   * Deletes up to `limit` of the oldest (lowest id) dead and cancelled rows, and their events once no
   * delivery is left, in one transaction; returns how many were dead letters and how many cancelled.
   */
  pruneOldestDead(limit: number): { dead: number; cancelled: number } {
    this.flushOutcomes();
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(
          `SELECT id, status FROM (
             SELECT id, status FROM (SELECT id, status FROM deliveries WHERE status = ${DeliveryStatus.dead}
               ORDER BY id LIMIT ?)
             UNION ALL
             SELECT id, status FROM (SELECT id, status FROM deliveries WHERE status = ${DeliveryStatus.cancelled}
               ORDER BY id LIMIT ?)
           ) ORDER BY id LIMIT ?`,
        )
        .all(limit, limit, limit) as Array<{ id: number; status: number }>;
      if (rows.length === 0) return { dead: 0, cancelled: 0 };
      const seqs = this.db
        .prepare('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) RETURNING event_seq')
        .pluck()
        .all(JSON.stringify(rows.map((r) => r.id))) as number[];
      const deleteEvent = this.db.prepare(
        'DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = ?)',
      );
      for (const seq of new Set(seqs)) deleteEvent.run(seq, seq);
      const dead = rows.filter((r) => r.status === DeliveryStatus.dead).length;
      return { dead, cancelled: rows.length - dead };
    })();
  }
}
