// What `status` reads of the state store, per URL and overall: read-only queries, so they run on a
// read-only connection beside a running bridge as well as inside it. Invariant: nothing here writes.
// Cost: counts on the partial indexes (pending, dead, cancelled), one pass over the table to find the
// URLs when the caller does not name them, and per URL only seeks on indexes and keys (PER_URL_SQL). Measured on 1M
// deliveries (200k pending on one URL): about 1 s in all; the running bridge spaces its reads
// accordingly (ops/status-routes.ts).

import type { Database as Db } from 'better-sqlite3';
import { DeliveryStatus, type StoredCheckpoint } from './records.js';
import { DELIVERED_SINCE_SQL, hasCommitTime, hasTable, LAST_SUCCESS_NEWEST_SQL } from './schema.js';

export interface StoreUrlStatus {
  /** The URL as registered (callers show safeUrl() of it). */
  readonly url: string;
  readonly pending: number;
  /** Pending deliveries attempted at least once. */
  readonly retrying: number;
  readonly dead: number;
  readonly cancelled: number;
  /** The source commit time of the oldest pending delivery's event (epoch ms; when stored, if unknown). */
  readonly oldestPendingAtMs?: number;
  /** When the URL's latest delivery answered 2xx (kept per URL, after its delivered rows are pruned). */
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

/** The queries run once per URL (each takes the URL): each a seek on an index or a key, never a pass over the table. */
export const PER_URL_SQL = {
  retrying: `SELECT COUNT(*) FROM deliveries
    WHERE status = ${DeliveryStatus.pending} AND url = ? AND attempts > 0`,
  // The source commit time, as ucw_oldest_pending_age_seconds has it (StateStore.oldestPendingCommit).
  oldest: `SELECT COALESCE(e.committed_at_ms, e.created_at_ms) FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.status = ${DeliveryStatus.pending} AND d.url = ? ORDER BY d.id LIMIT 1`,
  // Kept per URL by the outcome writer (it outlives the delivered rows' retention).
  lastSuccess: 'SELECT at_ms FROM last_success WHERE url = ?',
  // On deliveries_pending (one URL's pending rows) and deliveries_dead_by_url (one seek).
  lastErrorPending: `SELECT updated_at_ms AS at, last_error AS message, last_status AS status FROM deliveries
    WHERE status = ${DeliveryStatus.pending} AND url = ? AND last_error IS NOT NULL
    ORDER BY updated_at_ms DESC LIMIT 1`,
  lastErrorDead: `SELECT updated_at_ms AS at, last_error AS message, last_status AS status FROM deliveries
    WHERE status = ${DeliveryStatus.dead} AND url = ? AND last_error IS NOT NULL
    ORDER BY updated_at_ms DESC LIMIT 1`,
} as const;

/** A store not migrated yet (read-only open) has no last_success: its latest delivered row. */
const LAST_DELIVERED_ROW_SQL = `SELECT updated_at_ms FROM deliveries
  WHERE url = ? AND status = ${DeliveryStatus.delivered} ORDER BY id DESC LIMIT 1`;

const OLDEST_STORED_SQL = `SELECT created_at_ms FROM deliveries
  WHERE status = ${DeliveryStatus.pending} AND url = ? ORDER BY id LIMIT 1`;

interface ErrorRow {
  at: number;
  message: string;
  status: number | null;
}

/**
 * `knownUrls`: the URLs the caller already knows (a running bridge: its registry and its queues),
 * which spares a pass over every delivery to find them; without it (the CLI) that pass is made.
 * URLs with pending, dead or cancelled deliveries are found either way.
 */
export function readStoreStatus(db: Db, deadLetterLimit: number, knownUrls?: Iterable<string>): StoreStatus {
  const raw = db.prepare("SELECT value FROM meta WHERE key = 'checkpoint'").pluck().get() as string | undefined;
  const checkpoint = raw === undefined ? undefined : (JSON.parse(raw) as StoredCheckpoint);
  const countsOf = (status: number): Map<string, number> =>
    new Map(
      (
        db.prepare(`SELECT url, COUNT(*) AS n FROM deliveries WHERE status = ${status} GROUP BY url`).all() as Array<{
          url: string;
          n: number;
        }>
      ).map((r) => [r.url, r.n]),
    );
  // On the partial indexes (pending, dead, cancelled).
  const pending = countsOf(DeliveryStatus.pending);
  const dead = countsOf(DeliveryStatus.dead);
  const cancelled = countsOf(DeliveryStatus.cancelled);
  const all = new Set([...pending.keys(), ...dead.keys(), ...cancelled.keys()]);
  const known = knownUrls ?? (db.prepare('SELECT DISTINCT url FROM deliveries').pluck().all() as string[]);
  for (const url of known) all.add(url);
  const withLastSuccess = hasTable(db, 'last_success');
  // What a release that does not keep last_success delivered since this one last wrote (a read-only
  // open cannot bring the table up to date; a writable one did on open, and this is empty).
  const deliveredSince = new Map<string, number>();
  if (withLastSuccess) {
    const newest = db.prepare(LAST_SUCCESS_NEWEST_SQL).pluck().get();
    for (const r of db.prepare(DELIVERED_SINCE_SQL).all(newest) as Array<{ url: string; at: number }>)
      deliveredSince.set(r.url, r.at);
  }
  const stmts = {
    retrying: db.prepare(PER_URL_SQL.retrying).pluck(),
    // A store not migrated yet (read-only open) lacks committed_at_ms: its events read as stored.
    oldest: db.prepare(hasCommitTime(db) ? PER_URL_SQL.oldest : OLDEST_STORED_SQL).pluck(),
    lastSuccess: db.prepare(withLastSuccess ? PER_URL_SQL.lastSuccess : LAST_DELIVERED_ROW_SQL).pluck(),
    lastError: [PER_URL_SQL.lastErrorPending, PER_URL_SQL.lastErrorDead].map((sql) => db.prepare(sql)),
  };
  const urls = [...all].sort().map((url): StoreUrlStatus => {
    const p = pending.get(url) ?? 0;
    const oldest = p > 0 ? (stmts.oldest.get(url) as number | undefined) : undefined;
    const kept = stmts.lastSuccess.get(url) as number | undefined;
    const since = deliveredSince.get(url);
    const lastSuccess = since === undefined ? kept : Math.max(since, kept ?? since);
    const e = stmts.lastError
      .map((stmt) => stmt.get(url) as ErrorRow | undefined)
      .filter((r): r is ErrorRow => r !== undefined)
      .sort((a, b) => b.at - a.at)[0];
    return {
      url,
      pending: p,
      retrying: p > 0 ? (stmts.retrying.get(url) as number) : 0,
      dead: dead.get(url) ?? 0,
      cancelled: cancelled.get(url) ?? 0,
      ...(oldest !== undefined ? { oldestPendingAtMs: oldest } : {}),
      ...(lastSuccess !== undefined ? { lastSuccessAtMs: lastSuccess } : {}),
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
