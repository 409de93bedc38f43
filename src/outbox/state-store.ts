// The durable local store (SQLite in WAL mode): events, their deliveries (event x URL), mirrored rows
// of the directory/registry tables, and the binlog checkpoint. Invariant: the checkpoint never passes
// a source transaction whose events and mirror changes are not in the same committed SQLite
// transaction, so a crash at any point replays at most uncommitted work and enqueues nothing twice.

import type { Database as Db, Statement } from 'better-sqlite3';
import { join } from 'node:path';
import type { EventName } from '../domain/events.js';
import type { BinlogPosition, Row } from '../domain/row-change.js';
import { BridgeError, type WarningCode } from '../errors.js';
import { openError, openReadonly, openWritable, switchToIncrementalVacuum, type StoreLogger } from './connection.js';
import type { StateLock } from './state-lock.js';

export const OUTBOX_FILE = 'outbox.sqlite';

/** Delivery outcomes are written at most this long after they are known (ms)... */
const OUTCOME_FLUSH_MS = 20;
/** ...or as soon as this many are queued. */
const OUTCOME_FLUSH_MAX = 2_000;

/**
 * `staged`: written for a source transaction whose commit has not been read yet; invisible to delivery.
 * `cancelled`: its registration was removed (or its URL's backlog discarded) before it was sent; kept.
 */
export const DeliveryStatus = { pending: 0, delivered: 1, dead: 2, staged: 3, cancelled: 4 } as const;

export interface EnqueuedEvent {
  readonly id: string;
  readonly name: EventName;
  readonly orderKey: string;
  readonly occurredAtMs: number;
  readonly body: string;
  readonly urls: readonly string[];
  readonly source: BinlogPosition;
}

export interface MirrorChange {
  readonly table: string;
  readonly pk: string;
  /** The row after the change, or null when it was deleted. */
  readonly row: Row | null;
}

export interface CommitBatch {
  readonly events: readonly EnqueuedEvent[];
  readonly mirror: readonly MirrorChange[];
  readonly checkpoint: BinlogPosition;
}

/**
 * A pending delivery as the dispatcher holds it in memory: everything one attempt needs, so sending
 * never reads the store. The mutable fields mirror what the outcome writes persist.
 */
export interface Delivery {
  readonly id: number;
  readonly url: string;
  readonly orderKey: string;
  readonly eventId: string;
  readonly eventName: EventName;
  readonly occurredAtMs: number;
  readonly body: string;
  attempts: number;
  nextAttemptAtMs: number;
  firstAttemptAtMs: number | null;
}

/** Deliveries a part of a large transaction stored as staged, counted per URL. */
export type StagedCounts = Map<string, number>;

export interface DeliveryRow {
  readonly id: number;
  readonly url: string;
  readonly orderKey: string;
  readonly status: number;
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
  readonly firstAttemptAtMs: number | null;
  readonly createdAtMs: number;
  readonly eventId: string;
  readonly eventName: EventName;
  readonly occurredAtMs: number;
  readonly body: string;
}

export interface DeadLetter {
  readonly id: number;
  readonly url: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly updatedAtMs: number;
}

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
  created_at_ms INTEGER NOT NULL
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
const READABLE_VERSIONS: readonly string[] = ['2', SCHEMA_VERSION];

/** JSON for mirrored rows: Buffers as UTF-8 text, bigints as strings (rows are keys and labels). */
function rowJson(row: Row): string {
  return JSON.stringify(row, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (
      v &&
      typeof v === 'object' &&
      (v as { type?: unknown }).type === 'Buffer' &&
      Array.isArray((v as { data?: unknown }).data)
    ) {
      return Buffer.from((v as { data: number[] }).data).toString('utf8');
    }
    return v;
  });
}

export interface StateStoreOptions {
  readonly stateDir: string;
  /** `normal` survives process crashes; `full` also survives power loss, at a write cost. */
  readonly synchronous: 'normal' | 'full';
  readonly now?: () => number;
  /**
   * Opens an existing store for reading only (`dead-letters list` beside a running bridge): no lock,
   * no migration, no recovery, no write of any kind.
   */
  readonly readonly?: boolean;
  /** Told when looser file modes of the state directory were tightened, and of a one-time VACUUM. */
  readonly logger?: StoreLogger;
  /**
   * Rewrites a store made before v3 once for incremental vacuum (a VACUUM: time and free disk in
   * proportion to the store). `run` asks for it; offline commands do not take that cost.
   */
  readonly incrementalVacuum?: boolean;
}

export class StateStore {
  private readonly db: Db;
  /** Held by a writable store for its life: only its holder migrates, recovers or writes. */
  private readonly lock: StateLock | undefined;
  private readonly now: () => number;
  private readonly stmts: {
    insertEvent: Statement;
    insertDelivery: Statement;
    upsertMirror: Statement;
    deleteMirror: Statement;
    setMeta: Statement;
    getMeta: Statement;
    getDelivery: Statement;
    pendingPage: Statement;
    markDelivered: Statement;
    markRetry: Statement;
    markDead: Statement;
    countByStatus: Statement;
    promoteStaged: Statement;
    shiftFirstAttempts: Statement;
    markCancelled: Statement;
    cancelPending: Statement;
    cancelPendingOfEvents: Statement;
    deleteMirrorStaged: Statement;
    anyStaged: Statement;
    countPending: Statement;
    countDead: Statement;
    countCancelled: Statement;
    pendingByUrl: Statement;
  };
  private readonly commitTx: (batch: CommitBatch) => Delivery[];
  private readonly stageTx: (events: readonly EnqueuedEvent[], mirror: readonly MirrorChange[]) => StagedCounts;
  /** Whether mirror_staged may hold rows (saves three statements on every commit of a small transaction). */
  private mirrorStaged = false;
  private outcomes: Array<() => void> = [];
  /** Deliveries with a queued outcome: reading one of them flushes first. */
  private readonly queuedIds = new Set<number>();
  private flushScheduled = false;
  private markGoneStmt: Statement | undefined;

  constructor(opts: StateStoreOptions) {
    this.now = opts.now ?? Date.now;
    const path = join(opts.stateDir, OUTBOX_FILE);
    if (opts.readonly) {
      this.lock = undefined;
      this.db = openReadonly(path, READABLE_VERSIONS);
    } else {
      const { db, lock } = openWritable(opts.stateDir, path, opts.synchronous, opts.logger);
      this.db = db;
      this.lock = lock;
      try {
        this.migrate(path);
        if (opts.incrementalVacuum) switchToIncrementalVacuum(db, opts.logger);
      } catch (err) {
        db.close();
        lock.release();
        if (err instanceof BridgeError) throw err;
        throw openError(path, err);
      }
    }
    const db = this.db;
    this.stmts = {
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO events
           (id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (event_seq, url, status, next_attempt_at_ms, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      upsertMirror: db.prepare(
        'INSERT INTO mirror_rows (tbl, pk, row) VALUES (?, ?, ?) ' +
          'ON CONFLICT (tbl, pk) DO UPDATE SET row = excluded.row',
      ),
      deleteMirror: db.prepare('DELETE FROM mirror_rows WHERE tbl = ? AND pk = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      getDelivery: db.prepare(
        `SELECT d.id, d.url, e.order_key AS orderKey, d.status, d.attempts, d.next_attempt_at_ms AS nextAttemptAtMs,
                d.first_attempt_at_ms AS firstAttemptAtMs, d.created_at_ms AS createdAtMs,
                e.id AS eventId, e.name AS eventName, e.occurred_at_ms AS occurredAtMs, e.body
         FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?`,
      ),
      pendingPage: db.prepare(
        `SELECT d.id, d.url, e.order_key AS orderKey, e.id AS eventId, e.name AS eventName,
                e.occurred_at_ms AS occurredAtMs, e.body, d.attempts, d.next_attempt_at_ms AS nextAttemptAtMs,
                d.first_attempt_at_ms AS firstAttemptAtMs
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.url = ? AND d.status = ${DeliveryStatus.pending} AND d.id > ? ORDER BY d.id LIMIT ?`,
      ),
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
      countByStatus: db.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status'),
      promoteStaged: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.pending} WHERE status = ${DeliveryStatus.staged}`,
      ),
      // The pause counted from the later of a delivery's first attempt and the pause's start.
      shiftFirstAttempts: db.prepare(
        `UPDATE deliveries SET first_attempt_at_ms = first_attempt_at_ms + MAX(0, ? - MAX(first_attempt_at_ms, ?))
         WHERE url = ? AND status = ${DeliveryStatus.pending} AND first_attempt_at_ms IS NOT NULL`,
      ),
      markCancelled: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.cancelled}, last_error = ?, updated_at_ms = ?
         WHERE id = ? AND status = ${DeliveryStatus.pending}`,
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
      deleteMirrorStaged: db.prepare('DELETE FROM mirror_staged'),
      anyStaged: db.prepare(`SELECT 1 FROM deliveries WHERE status = ${DeliveryStatus.staged} LIMIT 1`),
      countPending: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.pending}`).pluck(),
      countDead: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.dead}`).pluck(),
      countCancelled: db.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.cancelled}`).pluck(),
      pendingByUrl: db.prepare(
        `SELECT url, COUNT(*) AS n FROM deliveries WHERE status = ${DeliveryStatus.pending} GROUP BY url`,
      ),
    };
    // An event is stored with all its deliveries in one transaction, so an event id already present
    // (a replay) means its deliveries exist too: nothing is created twice.
    const insertEvents = (events: readonly EnqueuedEvent[], status: number, onCreated: (d: Delivery) => void): void => {
      const now = this.now();
      for (const ev of events) {
        // An event nobody subscribed to at its position is not stored: the store holds deliveries.
        if (ev.urls.length === 0) continue;
        const stored = this.stmts.insertEvent.run(
          ev.id,
          ev.name,
          ev.orderKey,
          ev.occurredAtMs,
          ev.body,
          ev.source.file,
          ev.source.pos,
          now,
        );
        if (stored.changes === 0) continue;
        const seq = stored.lastInsertRowid;
        for (const url of ev.urls.length > 1 ? new Set(ev.urls) : ev.urls) {
          const id = Number(this.stmts.insertDelivery.run(seq, url, status, now, now, now).lastInsertRowid);
          onCreated({
            id,
            url,
            orderKey: ev.orderKey,
            eventId: ev.id,
            eventName: ev.name,
            occurredAtMs: ev.occurredAtMs,
            body: ev.body,
            attempts: 0,
            nextAttemptAtMs: now,
            firstAttemptAtMs: null,
          });
        }
      }
    };
    const stageMirror = db.prepare(
      'INSERT INTO mirror_staged (tbl, pk, row) VALUES (?, ?, ?) ' +
        'ON CONFLICT (tbl, pk) DO UPDATE SET row = excluded.row',
    );
    const applyStagedMirror = [
      'DELETE FROM mirror_rows WHERE (tbl, pk) IN (SELECT tbl, pk FROM mirror_staged WHERE row IS NULL)',
      'INSERT INTO mirror_rows (tbl, pk, row) SELECT tbl, pk, row FROM mirror_staged ' +
        'WHERE row IS NOT NULL ON CONFLICT (tbl, pk) DO UPDATE SET row = excluded.row',
      'DELETE FROM mirror_staged',
    ].map((sql) => db.prepare(sql));
    this.stageTx = this.db.transaction(
      (events: readonly EnqueuedEvent[], mirror: readonly MirrorChange[]): StagedCounts => {
        const counts: StagedCounts = new Map();
        insertEvents(events, DeliveryStatus.staged, (d) => counts.set(d.url, (counts.get(d.url) ?? 0) + 1));
        for (const m of mirror) stageMirror.run(m.table, m.pk, m.row ? rowJson(m.row) : null);
        return counts;
      },
    );
    this.commitTx = this.db.transaction((batch: CommitBatch): Delivery[] => {
      const created: Delivery[] = [];
      insertEvents(batch.events, DeliveryStatus.pending, (d) => created.push(d));
      this.stmts.promoteStaged.run();
      // Earlier parts' mirror changes first: the batch's own come after them in binlog order.
      if (this.mirrorStaged) for (const stmt of applyStagedMirror) stmt.run();
      for (const m of batch.mirror) {
        if (m.row) this.stmts.upsertMirror.run(m.table, m.pk, rowJson(m.row));
        else this.stmts.deleteMirror.run(m.table, m.pk);
      }
      this.stmts.setMeta.run('checkpoint', JSON.stringify(batch.checkpoint));
      return created;
    });
    if (!opts.readonly) this.discardStaged();
  }

  /**
   * Creates the schema, or brings a version 1 store (events keyed by their UUID) up to date by
   * copying its rows, or a version 2 store by adding v3's index, in one transaction. Refuses a store
   * written by a newer bridge.
   */
  private migrate(path: string): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;');
    const version = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema_version') as
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
    this.db.transaction(() => {
      this.db.exec(version === '1' ? V1_TO_V2 : SCHEMA);
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('schema_version', ?) " +
            'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        )
        .run(SCHEMA_VERSION);
    })();
  }

  close(): void {
    this.flushOutcomes();
    if (this.db.open) this.db.close();
    this.lock?.release();
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  checkpoint(): BinlogPosition | undefined {
    const raw = this.getMeta('checkpoint');
    return raw === undefined ? undefined : (JSON.parse(raw) as BinlogPosition);
  }

  /**
   * Writes one source transaction's events, deliveries, mirror changes and the new checkpoint
   * atomically. Returns the newly created deliveries (a replay creates none).
   */
  commit(batch: CommitBatch): Delivery[] {
    const created = this.commitTx(batch);
    this.mirrorStaged = false;
    return created;
  }

  /**
   * Writes events and mirror changes of a source transaction whose commit is still ahead (a part of
   * a large one): stored but invisible to delivery and to the mirrors until commit() promotes them
   * with the checkpoint.
   */
  stage(events: readonly EnqueuedEvent[], mirror: readonly MirrorChange[] = []): StagedCounts {
    if (mirror.length > 0) this.mirrorStaged = true;
    return this.stageTx(events, mirror);
  }

  /** Drops staged work of a transaction that will be read again from the checkpoint. */
  discardStaged(): void {
    this.stmts.deleteMirrorStaged.run();
    this.mirrorStaged = false;
    if (this.stmts.anyStaged.get() === undefined) return;
    this.db.transaction(() => this.deleteDeliveries(`status = ${DeliveryStatus.staged}`))();
  }

  /** Seeds mirrors and the first checkpoint (first run, from a snapshot of the source). */
  initialize(
    mirrorRows: ReadonlyArray<{ table: string; rows: ReadonlyArray<{ pk: string; row: Row }> }>,
    checkpoint: BinlogPosition,
  ): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM mirror_rows').run();
      for (const t of mirrorRows) for (const r of t.rows) this.stmts.upsertMirror.run(t.table, r.pk, rowJson(r.row));
      this.stmts.setMeta.run('checkpoint', JSON.stringify(checkpoint));
    })();
  }

  /** Replaces every mirrored row of `table` (a one-time rewrite of rows stored whole). */
  replaceMirrorRows(table: string, rows: ReadonlyArray<{ pk: string; row: Row }>): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM mirror_rows WHERE tbl = ?').run(table);
      for (const r of rows) this.stmts.upsertMirror.run(table, r.pk, rowJson(r.row));
    })();
  }

  mirrorRows(table: string): Row[] {
    return (this.db.prepare('SELECT row FROM mirror_rows WHERE tbl = ?').pluck().all(table) as string[]).map(
      (r) => JSON.parse(r) as Row,
    );
  }

  /** Up to `limit` pending deliveries of `url` with an id above `afterId`, in enqueue order. */
  pendingPage(url: string, afterId: number, limit: number): Delivery[] {
    // Queued outcomes only concern deliveries the dispatcher already holds (ids <= afterId).
    return this.stmts.pendingPage.all(url, afterId, limit) as Delivery[];
  }

  delivery(id: number): DeliveryRow | undefined {
    if (this.queuedIds.has(id)) this.flushOutcomes();
    return this.stmts.getDelivery.get(id) as DeliveryRow | undefined;
  }

  // Delivery outcomes are written in batches: those of up to OUTCOME_FLUSH_MS (or OUTCOME_FLUSH_MAX
  // outcomes) in one SQLite transaction. Small transactions cost a WAL page write each: one per
  // outcome took a sixth of the CPU at catch-up, one per event-loop turn still an eighth. An outcome
  // lost in a crash only means that delivery is sent again with the same webhook-id, which
  // at-least-once allows; every read that reports on outcomes flushes first.

  markDelivered(id: number, status: number, attemptStartedAtMs: number): void {
    const at = this.now();
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

  /**
   * A 410 pause of `url` that began at `pausedSinceMs` ends at `nowMs`: the first attempt time of its
   * pending deliveries moves on by the time paused since then, so the pause spends no age budget
   * (kept across restarts, and for deliveries not held in memory). Returns how many.
   */
  shiftFirstAttempts(url: string, pausedSinceMs: number, nowMs: number): number {
    this.flushOutcomes();
    return this.stmts.shiftFirstAttempts.run(nowMs, pausedSinceMs, url).changes;
  }

  /** A delivery whose registration was removed while it was in flight, and not delivered: cancelled. */
  markCancelled(id: number, reason: string): void {
    const at = this.now();
    this.queueOutcome(id, () => this.stmts.markCancelled.run(reason, at, id));
  }

  /** Writes the queued delivery outcomes now (reads that report on them call it first). */
  flushOutcomes(): void {
    this.flushScheduled = false;
    if (this.outcomes.length === 0 || !this.db.open) return;
    const batch = this.outcomes;
    this.outcomes = [];
    this.queuedIds.clear();
    this.db.transaction(() => {
      for (const write of batch) write();
    })();
  }

  private queueOutcome(id: number, write: () => void): void {
    this.outcomes.push(write);
    this.queuedIds.add(id);
    if (this.outcomes.length >= OUTCOME_FLUSH_MAX) this.flushOutcomes();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setTimeout(() => this.flushOutcomes(), OUTCOME_FLUSH_MS).unref();
    }
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
   * Deletes up to `limit` delivered or cancelled rows older than the cut-off (oldest first, on their index), and
   * their events once no delivery is left, in one short transaction; returns how many. Pruner calls
   * it in batches so the event loop is served in between.
   */
  prune(deliveredBeforeMs: number, limit: number): number {
    this.flushOutcomes();
    // Spelled as the partial index deliveries_done is, so the planner uses it.
    return this.db.transaction(() =>
      this.deleteDeliveries(
        `id IN (SELECT id FROM deliveries WHERE status IN (1, 4) AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?)`,
        deliveredBeforeMs,
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

  /** Deletes the deliveries `where` selects, then those of their events no delivery refers to any more. */
  private deleteDeliveries(where: string, ...params: number[]): number {
    const seqs = this.db
      .prepare(`DELETE FROM deliveries WHERE ${where} RETURNING event_seq`)
      .pluck()
      .all(...params) as number[];
    const deleteEvent = this.db.prepare(
      'DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = ?)',
    );
    for (const seq of new Set(seqs)) deleteEvent.run(seq, seq);
    return seqs.length;
  }
}
