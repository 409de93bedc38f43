// The state store's SQLite layout: its tables and indexes, its version, and the migration of an older
// store to it. Invariant: a store is migrated in one transaction, only by the lock holder, and a store
// written by a newer bridge is refused, never read or rewritten.

import type { Database as Db } from 'better-sqlite3';
import { BridgeError } from '../errors.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mirror_rows (
  tbl TEXT NOT NULL, pk TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (tbl, pk)
) WITHOUT ROWID;
-- Rows are appended in commit order: events by an integer key (the event id is a random-looking UUID;
-- a B-tree keyed on it took a page write per insert), their uniqueness checked on (source file,
-- position, id), which also grows at its right edge.
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  order_key TEXT NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  source_file TEXT NOT NULL,
  source_pos INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  committed_at_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_source ON events (source_file, source_pos, id);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_seq INTEGER NOT NULL,
  url TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL,
  first_attempt_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT
);
-- Partial indexes: a delivery enters and leaves each as its status changes, so the hot path (pending
-- to delivered) touches one small index instead of a (status, id) index over every row ever kept.
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (url, id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (id) WHERE status = 2;
CREATE INDEX IF NOT EXISTS deliveries_staged ON deliveries (id) WHERE status = 3;
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_seq);
-- Mirror changes of a transaction read in parts, the last per row (row NULL: deleted); applied to
-- mirror_rows by the commit that promotes the staged deliveries, or discarded with them.
CREATE TABLE IF NOT EXISTS mirror_staged (
  tbl TEXT NOT NULL, pk TEXT NOT NULL, row TEXT, PRIMARY KEY (tbl, pk)
) WITHOUT ROWID;
-- Pruning finds delivered and cancelled rows past retention on this one (v3), not by scanning every delivery.
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries (updated_at_ms) WHERE status IN (1, 4);
-- Cancelled rows by id: counted and pruned oldest first with the dead ones under --max-dead-rows. Added
-- to v3 without a new version: an index only, created by the lock holder's next open (a store without
-- it is read the same, by a scan).
CREATE INDEX IF NOT EXISTS deliveries_cancelled ON deliveries (id) WHERE status = 4;
-- status's per-URL reads (status-queries.ts), added to v3 the same way: a URL's latest dead letter in
-- one seek, and its latest 2xx kept as one row per URL, written once per outcome batch (an index of
-- delivered rows by URL cost every delivery an index insert: bench/RESULTS.md). Unlike the delivered
-- rows, last_success outlives their retention.
CREATE INDEX IF NOT EXISTS deliveries_dead_by_url ON deliveries (url, updated_at_ms) WHERE status = 2;
CREATE TABLE IF NOT EXISTS last_success (url TEXT PRIMARY KEY, at_ms INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Version 1 tables are copied into this layout when a store is opened (see migrate()). */
const V1_TO_V2 = `
DROP INDEX IF EXISTS deliveries_by_status;
ALTER TABLE events RENAME TO events_v1;
ALTER TABLE deliveries RENAME TO deliveries_v1;
${SCHEMA}
INSERT INTO events (id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms)
  SELECT id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms
  FROM events_v1 ORDER BY source_file, source_pos;
INSERT INTO deliveries (id, event_seq, url, status, attempts, next_attempt_at_ms, first_attempt_at_ms,
    created_at_ms, updated_at_ms, last_status, last_error)
  SELECT d.id, e.seq, d.url, d.status, d.attempts, d.next_attempt_at_ms, d.first_attempt_at_ms,
    d.created_at_ms, d.updated_at_ms, d.last_status, d.last_error
  FROM deliveries_v1 d JOIN events e ON e.id = d.event_id ORDER BY d.id;
DROP TABLE deliveries_v1;
DROP TABLE events_v1;
`;

/**
 * 2: events keyed by an integer, partial indexes by delivery status. 3: an index of delivered rows by
 * time (pruning) and incremental auto-vacuum (connection.ts, switchToIncrementalVacuum()); v2's tables are
 * unchanged, so SCHEMA's CREATE INDEX IF NOT EXISTS is its whole migration.
 */
const SCHEMA_VERSION = '3';
/** Layouts a read-only open can read (v2 lacks only v3's index and vacuum mode). */
export const READABLE_VERSIONS: readonly string[] = ['2', SCHEMA_VERSION];

/**
 * Creates the schema, or brings a version 1 store (events keyed by their UUID) up to date by
 * copying its rows, or a version 2 store by adding v3's index, in one transaction. Refuses a store
 * written by a newer bridge.
 */
export function migrate(db: Db, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;');
  const version = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema_version') as
    string | undefined;
  if (version !== undefined && version !== '1' && version !== '2' && version !== SCHEMA_VERSION) {
    throw new BridgeError(
      'UCW_ERR_OUTBOX_OPEN',
      `state store ${path} has schema version ${version}; this bridge writes ${SCHEMA_VERSION}`,
      {
        hint: 'Use the bridge version that created this state directory, or a new --state-dir.',
      },
    );
  }
  db.transaction(() => {
    db.exec(version === '1' ? V1_TO_V2 : SCHEMA);
    addCommitTime(db);
    keepLastSuccess(db);
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('schema_version', ?) " +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(SCHEMA_VERSION);
  })();
}

/**
 * `events.committed_at_ms`: the source commit time the delivery latency and the oldest pending age
 * are measured from. Added in place, with no version change: it is nullable, so a bridge of the same
 * schema version that does not know it still reads and writes the store (its rows read as their
 * created_at_ms, the time the bridge stored them).
 */
function addCommitTime(db: Db): void {
  if (!hasCommitTime(db)) db.exec('ALTER TABLE events ADD COLUMN committed_at_ms INTEGER');
}

/** False only for a store opened read-only that no bridge of this version has opened yet. */
export function hasCommitTime(db: Db): boolean {
  const columns = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('events') as string[];
  return columns.includes('committed_at_ms');
}

/** Whether the store has table `name` (a store not migrated yet, opened read-only, may lack one). */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/**
 * Each URL's latest 2xx among the delivered rows updated after a time (`?`, epoch ms), on the
 * deliveries_done index: a range above the newest time in last_success holds only what a release that
 * does not keep last_success delivered since (and later cancellations), so it is read on every open.
 */
export const DELIVERED_SINCE_SQL = `SELECT url, MAX(updated_at_ms) AS at FROM deliveries
  WHERE status IN (1, 4) AND updated_at_ms > ? AND status = 1 GROUP BY url`;

/**
 * A URL's latest 2xx as the outcome writer records it (url, at_ms): a later batch replaces it even if
 * the clock went back, so the value is what the rows tell.
 */
export const LAST_SUCCESS_UPSERT_SQL =
  'INSERT INTO last_success (url, at_ms) VALUES (?, ?) ON CONFLICT (url) DO UPDATE SET at_ms = excluded.at_ms';

/** The newest time in last_success (-1 when empty): what DELIVERED_SINCE_SQL reads above. */
export const LAST_SUCCESS_NEWEST_SQL = 'SELECT COALESCE(MAX(at_ms), -1) FROM last_success';

/**
 * Brings last_success up to the delivered rows: all of them for a new table, else those a release that
 * does not keep it (issue 13's, which made deliveries_delivered on every open, or an earlier one)
 * delivered since this one last wrote. deliveries_delivered is dropped: nothing reads it any more.
 */
function keepLastSuccess(db: Db): void {
  const since = db.prepare(LAST_SUCCESS_NEWEST_SQL).pluck().get() as number;
  db.prepare(
    `INSERT INTO last_success (url, at_ms) ${DELIVERED_SINCE_SQL}
     ON CONFLICT (url) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)`,
  ).run(since);
  db.exec('DROP INDEX IF EXISTS deliveries_delivered');
}
