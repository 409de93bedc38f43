// What `status` reads of the state store, per URL and overall: read-only queries, so they run on a
// read-only connection beside a running bridge as well as inside it. Invariant: nothing here writes.
// Cost: one pass over the deliveries table (grouped by URL and status) plus two indexed lookups per
// URL for its last error; the running bridge caches the answer for a few seconds (ops/status-routes.ts).

import type { Database as Db } from 'better-sqlite3';
import { DeliveryStatus, type StoredCheckpoint } from './records.js';

export interface StoreUrlStatus {
  /** The URL as registered (callers show safeUrl() of it). */
  readonly url: string;
  readonly pending: number;
  /** Pending deliveries attempted at least once. */
  readonly retrying: number;
  readonly dead: number;
  readonly cancelled: number;
  /** When the oldest pending delivery was enqueued (epoch ms). */
  readonly oldestPendingAtMs?: number;
  /** The latest delivery answered 2xx among those kept (delivered rows are pruned after retention). */
  readonly lastSuccessAtMs?: number;
  /** The latest error recorded on a pending or dead delivery. */
  readonly lastError?: { readonly atMs: number; readonly message: string; readonly status?: number };
}

export interface StoreDeadLetter {
  readonly id: number;
  readonly url: string;
  readonly eventName: string;
  readonly eventId: string;
  readonly attempts: number;
  readonly failedAtMs: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
}

export interface StoreStatus {
  readonly checkpoint: StoredCheckpoint | undefined;
  /** Every URL with a delivery in the store, sorted. */
  readonly urls: readonly StoreUrlStatus[];
  /** The latest dead letters, newest first. */
  readonly deadLetters: readonly StoreDeadLetter[];
}

interface GroupRow {
  url: string;
  status: number;
  n: number;
  tried: number;
  oldest: number;
  latest: number;
}

interface ErrorRow {
  at: number;
  message: string;
  status: number | null;
}

export function readStoreStatus(db: Db, deadLetterLimit: number): StoreStatus {
  const raw = db.prepare("SELECT value FROM meta WHERE key = 'checkpoint'").pluck().get() as string | undefined;
  const checkpoint = raw === undefined ? undefined : (JSON.parse(raw) as StoredCheckpoint);
  const groups = db
    .prepare(
      `SELECT url, status, COUNT(*) AS n, SUM(attempts > 0) AS tried, MIN(created_at_ms) AS oldest,
              MAX(updated_at_ms) AS latest
       FROM deliveries GROUP BY url, status`,
    )
    .all() as GroupRow[];
  // Spelled as the partial indexes deliveries_pending and deliveries_dead are, so each is a short walk.
  const lastErrorOf = [DeliveryStatus.pending, DeliveryStatus.dead].map((status) =>
    db.prepare(
      `SELECT updated_at_ms AS at, last_error AS message, last_status AS status FROM deliveries
       WHERE status = ${status} AND url = ? AND last_error IS NOT NULL ORDER BY updated_at_ms DESC LIMIT 1`,
    ),
  );
  const byUrl = new Map<string, GroupRow[]>();
  for (const g of groups) byUrl.set(g.url, [...(byUrl.get(g.url) ?? []), g]);
  const urls = [...byUrl.keys()].sort().map((url): StoreUrlStatus => {
    const of = (status: number): GroupRow | undefined => byUrl.get(url)!.find((g) => g.status === status);
    const pending = of(DeliveryStatus.pending);
    const errors = lastErrorOf
      .map((stmt) => stmt.get(url) as ErrorRow | undefined)
      .filter((e): e is ErrorRow => e !== undefined)
      .sort((a, b) => b.at - a.at);
    const e = errors[0];
    return {
      url,
      pending: pending?.n ?? 0,
      retrying: pending?.tried ?? 0,
      dead: of(DeliveryStatus.dead)?.n ?? 0,
      cancelled: of(DeliveryStatus.cancelled)?.n ?? 0,
      ...(pending ? { oldestPendingAtMs: pending.oldest } : {}),
      ...(of(DeliveryStatus.delivered) ? { lastSuccessAtMs: of(DeliveryStatus.delivered)!.latest } : {}),
      ...(e
        ? { lastError: { atMs: e.at, message: e.message, ...(e.status === null ? {} : { status: e.status }) } }
        : {}),
    };
  });
  const deadLetters = db
    .prepare(
      `SELECT d.id, d.url, e.name AS eventName, e.id AS eventId, d.attempts, d.updated_at_ms AS failedAtMs,
              d.last_status AS lastStatus, d.last_error AS lastError
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
       WHERE d.status = ${DeliveryStatus.dead} ORDER BY d.updated_at_ms DESC, d.id DESC LIMIT ?`,
    )
    .all(deadLetterLimit) as StoreDeadLetter[];
  return { checkpoint, urls, deadLetters };
}
