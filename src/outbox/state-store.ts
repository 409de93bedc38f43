// The durable local store (SQLite in WAL mode): events, their deliveries (event x URL), mirrored rows
// of the directory/registry tables, and the binlog checkpoint. Invariant: the checkpoint never passes
// a source transaction whose events and mirror changes are not in the same committed SQLite
// transaction, so a crash at any point replays at most uncommitted work and enqueues nothing twice.

import type { Database as Db, RunResult, Statement } from 'better-sqlite3';
import { join } from 'node:path';
import type { BinlogPosition, Row } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { openError, openReadonly, openWritable, switchToIncrementalVacuum, type StoreLogger } from './connection.js';
import { DeliveryQueries } from './delivery-queries.js';
import { deleteDeliveries, StoreMaintenance } from './maintenance.js';
import { OutcomeWriter } from './outcome-writer.js';
import {
  DeliveryStatus,
  type CommitBatch,
  type DeadLetter,
  type Delivery,
  type DeliveryRow,
  type EnqueuedEvent,
  type MirrorChange,
  type ReplayInsert,
  type StagedCounts,
  type StoredCheckpoint,
  checkpointJson,
} from './records.js';
import { readStoreStatus, type StoreStatus } from './status-queries.js';
import { hasCommitTime, migrate, READABLE_VERSIONS } from './schema.js';
import type { StateLock } from './state-lock.js';

// Callers import the records from here, with the store that hands them out.
export * from './records.js';

export const OUTBOX_FILE = 'outbox.sqlite';

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
   * Opens an existing store for reading only (`deliveries list` beside a running bridge): no lock,
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
    oldestPendingCommit: Statement;
    promoteStaged: Statement;
    deleteMirrorStaged: Statement;
    anyStaged: Statement;
    findEvent: Statement;
    deliveryStates: Statement;
  };
  private readonly commitTx: (batch: CommitBatch) => Delivery[];
  private readonly replayTx: (items: readonly ReplayInsert[]) => Delivery[];
  private readonly stageTx: (events: readonly EnqueuedEvent[], mirror: readonly MirrorChange[]) => StagedCounts;
  /** Whether mirror_staged may hold rows (saves three statements on every commit of a small transaction). */
  private mirrorStaged = false;
  private readonly outcomes: OutcomeWriter;
  private readonly maintenance: StoreMaintenance;
  /** The operator's queries: list, show, requeue, the dead-row cap (delivery-queries.ts). */
  readonly deliveries: DeliveryQueries;

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
        migrate(db, path);
        if (opts.incrementalVacuum) switchToIncrementalVacuum(db, opts.logger);
      } catch (err) {
        db.close();
        lock.release();
        if (err instanceof BridgeError) throw err;
        throw openError(path, err);
      }
    }
    const db = this.db;
    // A store not migrated yet (read-only open) lacks the column: its events read as stored.
    const withCommitTime = hasCommitTime(db);
    const COMMITTED_AT = withCommitTime ? 'COALESCE(e.committed_at_ms, e.created_at_ms)' : 'e.created_at_ms';
    const commitColumn = withCommitTime ? ', committed_at_ms' : '';
    this.outcomes = new OutcomeWriter(db, this.now);
    this.maintenance = new StoreMaintenance(db, this.now, () => this.outcomes.flush());
    this.deliveries = new DeliveryQueries(db, this.now, () => this.outcomes.flush());
    this.stmts = {
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO events
           (id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms${commitColumn})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?${commitColumn ? ', ?' : ''})`,
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
                e.occurred_at_ms AS occurredAtMs, ${COMMITTED_AT} AS committedAtMs, e.body, d.attempts,
                d.next_attempt_at_ms AS nextAttemptAtMs,
                d.first_attempt_at_ms AS firstAttemptAtMs
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.url = ? AND d.status = ${DeliveryStatus.pending} AND d.id > ? ORDER BY d.id LIMIT ?`,
      ),
      // On the partial index deliveries_pending (url, id): one seek, whatever the store holds.
      oldestPendingCommit: db
        .prepare(
          `SELECT ${COMMITTED_AT} FROM deliveries d JOIN events e ON e.seq = d.event_seq
           WHERE d.url = ? AND d.status = ${DeliveryStatus.pending} ORDER BY d.id LIMIT 1`,
        )
        .pluck(),
      promoteStaged: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.pending} WHERE status = ${DeliveryStatus.staged}`,
      ),
      deleteMirrorStaged: db.prepare('DELETE FROM mirror_staged'),
      anyStaged: db.prepare(`SELECT 1 FROM deliveries WHERE status = ${DeliveryStatus.staged} LIMIT 1`),
      // By the unique (source_file, source_pos, id) index: a range of positions, then the id.
      findEvent: db
        .prepare('SELECT seq FROM events WHERE source_file = ? AND source_pos BETWEEN ? AND ? AND id = ?')
        .pluck(),
      deliveryStates: db.prepare('SELECT url, status FROM deliveries WHERE event_seq = ?'),
    };
    const insertEventRow = (ev: EnqueuedEvent, now: number): RunResult =>
      this.stmts.insertEvent.run(
        ev.id,
        ev.name,
        ev.orderKey,
        ev.occurredAtMs,
        ev.body,
        ev.source.file,
        ev.source.pos,
        now,
        ev.committedAtMs ?? now,
      );
    // An event is stored with all its deliveries in one transaction, so an event id already present
    // (a replay) means its deliveries exist too: nothing is created twice.
    const insertEvents = (events: readonly EnqueuedEvent[], status: number, onCreated: (d: Delivery) => void): void => {
      const now = this.now();
      for (const ev of events) {
        // An event nobody subscribed to at its position is not stored: the store holds deliveries.
        if (ev.urls.length === 0) continue;
        const stored = insertEventRow(ev, now);
        if (stored.changes === 0) continue;
        insertDeliveries(stored.lastInsertRowid, ev, ev.urls, status, now, onCreated);
      }
    };
    const insertDeliveries = (
      seq: number | bigint,
      ev: EnqueuedEvent,
      urls: readonly string[],
      status: number,
      now: number,
      onCreated: (d: Delivery) => void,
    ): void => {
      for (const url of urls.length > 1 ? new Set(urls) : urls) {
        const id = Number(this.stmts.insertDelivery.run(seq, url, status, now, now, now).lastInsertRowid);
        onCreated({
          id,
          url,
          orderKey: ev.orderKey,
          eventId: ev.id,
          eventName: ev.name,
          occurredAtMs: ev.occurredAtMs,
          committedAtMs: ev.committedAtMs ?? now,
          body: ev.body,
          attempts: 0,
          nextAttemptAtMs: now,
          firstAttemptAtMs: null,
        });
      }
    };
    // A replayed event: its deliveries to the chosen URLs, added to its stored row when it has one.
    this.replayTx = this.db.transaction((items: readonly ReplayInsert[]): Delivery[] => {
      const created: Delivery[] = [];
      const now = this.now();
      for (const { event: ev, seq, urls } of items) {
        if (urls.length === 0) continue;
        const at = seq ?? insertEventRow(ev, now).lastInsertRowid;
        insertDeliveries(at, ev, urls, DeliveryStatus.pending, now, (d) => created.push(d));
      }
      return created;
    });
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
      this.stmts.setMeta.run('checkpoint', checkpointJson(batch));
      return created;
    });
    if (!opts.readonly) this.discardStaged();
  }

  /** Gives SQLite's page cache back (idle-trim.ts: after a burst, when idle). */
  releaseMemory(): void {
    if (this.db.open) this.db.pragma('shrink_memory');
  }

  close(): void {
    this.outcomes.flush();
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
    const stored = this.storedCheckpoint();
    return stored === undefined ? undefined : { file: stored.file, pos: stored.pos };
  }

  /** The checkpoint with the commit time and GTID stored beside it (when the bridge wrote them). */
  storedCheckpoint(): StoredCheckpoint | undefined {
    const raw = this.getMeta('checkpoint');
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredCheckpoint);
  }

  /** What `status` reads of the store (status-queries.ts): read-only queries, beside a running bridge too. */
  status(deadLetters: number, knownUrls?: Iterable<string>): StoreStatus {
    this.outcomes.flush();
    return readStoreStatus(this.db, deadLetters, knownUrls);
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

  /**
   * The stored row of an event (its seq) and the status of each of its deliveries, looked up by id
   * among the events stored from `source.file` between `fromPos` and `toPos` (where a transaction's
   * start may have been recorded); undefined when it is not stored (never, or pruned).
   */
  storedEvent(
    id: string,
    file: string,
    fromPos: number,
    toPos: number,
  ): { seq: number; deliveries: Array<{ url: string; status: number }> } | undefined {
    const seq = this.stmts.findEvent.get(file, fromPos, toPos, id) as number | undefined;
    if (seq === undefined) return undefined;
    return { seq, deliveries: this.stmts.deliveryStates.all(seq) as Array<{ url: string; status: number }> };
  }

  /** Replayed events' new deliveries (pending), in one transaction; returns them for the scheduler. */
  insertReplayed(items: readonly ReplayInsert[]): Delivery[] {
    return this.replayTx(items);
  }

  /** Drops staged work of a transaction that will be read again from the checkpoint. */
  discardStaged(): void {
    this.stmts.deleteMirrorStaged.run();
    this.mirrorStaged = false;
    if (this.stmts.anyStaged.get() === undefined) return;
    this.db.transaction(() => deleteDeliveries(this.db, `status = ${DeliveryStatus.staged}`))();
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
    // Queued outcomes concern deliveries the dispatcher held; after it gave some back to the store
    // (flow-window.ts: a URL over its share sheds), ones above afterId may be among them.
    if (this.outcomes.anyQueuedAbove(afterId)) this.outcomes.flush();
    return this.stmts.pendingPage.all(url, afterId, limit) as Delivery[];
  }

  /** Binlog commit time (epoch ms) of the oldest pending delivery of `url`, if any. */
  oldestPendingCommit(url: string): number | undefined {
    return this.stmts.oldestPendingCommit.get(url) as number | undefined;
  }

  delivery(id: number): DeliveryRow | undefined {
    if (this.outcomes.isQueued(id)) this.outcomes.flush();
    return this.stmts.getDelivery.get(id) as DeliveryRow | undefined;
  }

  // Delivery outcomes, written in batches (outcome-writer.ts).

  markDelivered(id: number, url: string, status: number, attemptStartedAtMs: number): void {
    this.outcomes.markDelivered(id, url, status, attemptStartedAtMs);
  }

  markRetry(
    id: number,
    nextAttemptAtMs: number,
    status: number | null,
    error: string,
    attemptStartedAtMs: number,
  ): void {
    this.outcomes.markRetry(id, nextAttemptAtMs, status, error, attemptStartedAtMs);
  }

  markDead(id: number, status: number | null, error: string, attemptStartedAtMs: number): void {
    this.outcomes.markDead(id, status, error, attemptStartedAtMs);
  }

  markGone(id: number, nextAttemptAtMs: number, status: number, error: string): void {
    this.outcomes.markGone(id, nextAttemptAtMs, status, error);
  }

  markCancelled(id: number, reason: string): void {
    this.outcomes.markCancelled(id, reason);
  }

  flushOutcomes(): void {
    this.outcomes.flush();
  }

  // Operations on the backlog as a whole (maintenance.ts).

  shiftFirstAttempts(url: string, pausedSinceMs: number, nowMs: number): number {
    return this.maintenance.shiftFirstAttempts(url, pausedSinceMs, nowMs);
  }

  backlog(): { pending: number; dead: number } {
    return this.maintenance.backlog();
  }

  counts(): { pending: number; delivered: number; dead: number } {
    return this.maintenance.counts();
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.maintenance.deadLetters(limit);
  }

  requeueDead(ids?: readonly number[]): number {
    return this.maintenance.requeueDead(ids);
  }

  prune(deliveredBeforeMs: number, limit: number): number {
    return this.maintenance.prune(deliveredBeforeMs, limit);
  }

  pruneForRoom(limit: number): number {
    return this.maintenance.pruneForRoom(limit);
  }

  vacuumStep(pages: number): number {
    return this.maintenance.vacuumStep(pages);
  }

  cancelPending(url: string, events: readonly string[] | undefined, keepIds: Iterable<number>, reason: string): number {
    return this.maintenance.cancelPending(url, events, keepIds, reason);
  }

  discardPending(url: string): number {
    return this.maintenance.discardPending(url);
  }

  cancelledCount(): number {
    return this.maintenance.cancelledCount();
  }

  pendingByUrl(): Map<string, number> {
    return this.maintenance.pendingByUrl();
  }

  usedBytes(): number {
    return this.maintenance.usedBytes();
  }
}
