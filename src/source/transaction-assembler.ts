// Turns the binlog's events (as zongji decodes them) into source transactions of watched tables:
// where a transaction starts and ends, what identity its row changes get, and which of its rows were
// rolled back. Invariants: a hand-over with a resume point is only made at a real end of a group
// (XID, COMMIT, a standalone statement), never at a savepoint; rolled-back rows are never handed over.

import type { AnyBinlogEvent, BinlogEventByName, BinlogEventName } from '@vlasky/zongji';
import type { BinlogPosition, RowChange, SourceTransaction, TransactionRef } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { classifyQuery } from './query-kind.js';

export interface AssemblerOptions {
  readonly from: BinlogPosition;
  /** `schema.table` names whose row changes are kept. */
  readonly watched: ReadonlySet<string>;
  /** Rows of one open transaction held before they are handed over as a part. */
  readonly partRows: number;
  readonly handOver: (tx: SourceTransaction) => void;
}

type RowsEvent = BinlogEventByName<'writerows'> | BinlogEventByName<'updaterows'> | BinlogEventByName<'deleterows'>;

/** The group being read: from its GTID event or BEGIN (or first row) to its commit. */
interface OpenTransaction {
  readonly start: BinlogPosition;
  /** The server's GTID for it, if it sent one. */
  readonly gtid: string | undefined;
  /** End of its first event with a real position (MariaDB 11.4+ writes 0 inside a transaction). */
  firstPos: number;
  /** Fixed at its first watched row, so every part of it names its changes the same way. */
  ref: TransactionRef | undefined;
  /** Watched rows not handed over yet. */
  pending: RowChange[];
  /** Watched rows already handed over in parts. */
  handedOver: number;
  /** Next ordinal per table. */
  readonly ordinals: Map<string, number>;
  /** Savepoint name -> how many watched rows the transaction had when it was set. */
  readonly savepoints: Map<string, number>;
}

function is<N extends BinlogEventName>(ev: AnyBinlogEvent, name: N): ev is BinlogEventByName<N> {
  return ev.getEventName() === name;
}

export class TransactionAssembler {
  private file: string;
  /** Resume point after the last group boundary: the start of whatever comes next. */
  private boundary: BinlogPosition;
  private open: OpenTransaction | undefined;

  constructor(private readonly opts: AssemblerOptions) {
    this.file = opts.from.file;
    this.boundary = opts.from;
  }

  /** Takes one event; throws a BridgeError when the stream holds what the bridge must not deliver. */
  onEvent(ev: AnyBinlogEvent): void {
    if (is(ev, 'rotate')) {
      // The payload position is the first event of the named file (the header's is the old file's).
      this.file = ev.binlogName;
      this.boundary = { file: ev.binlogName, pos: ev.position };
      return;
    }
    if (is(ev, 'mariadbgtid') || is(ev, 'gtid')) {
      this.begin(ev.gtid, ev.nextPosition);
      return;
    }
    if (is(ev, 'anonymousgtid')) {
      this.begin(undefined, ev.nextPosition);
      return;
    }
    if (is(ev, 'writerows') || is(ev, 'updaterows') || is(ev, 'deleterows')) {
      this.onRows(ev);
      return;
    }
    if (is(ev, 'xid')) {
      this.commit(ev.nextPosition, ev.timestamp);
      return;
    }
    if (is(ev, 'xaprepare')) {
      this.onXaPrepare(ev);
      return;
    }
    if (is(ev, 'query')) this.onQuery(ev);
  }

  private begin(gtid: string | undefined, pos: number): void {
    // A group left without its end (none is known to occur) is dropped, as before: it never committed.
    this.open = {
      start: this.boundary,
      gtid,
      firstPos: pos,
      ref: undefined,
      pending: [],
      handedOver: 0,
      ordinals: new Map(),
      savepoints: new Map(),
    };
  }

  private current(pos: number): OpenTransaction {
    const open = this.open;
    if (!open) {
      this.begin(undefined, pos);
      return this.open!;
    }
    if (open.firstPos === 0) open.firstPos = pos;
    return open;
  }

  private onQuery(ev: BinlogEventByName<'query'>): void {
    const q = classifyQuery(ev.query);
    switch (q.kind) {
      case 'begin':
        this.current(ev.nextPosition);
        return;
      case 'inside':
        // XA END, RELEASE SAVEPOINT: nothing to do, and no boundary.
        return;
      case 'savepoint':
        this.open?.savepoints.set(q.name, this.open.handedOver + this.open.pending.length);
        return;
      case 'rollbackTo':
        this.rollBack(q.name, ev.nextPosition);
        return;
      case 'rollback':
        this.rollBack(undefined, ev.nextPosition);
        this.commit(ev.nextPosition, ev.timestamp);
        return;
      case 'commit':
      case 'other':
        // COMMIT of a non-transactional group, or DDL / any standalone statement: a group boundary.
        this.commit(ev.nextPosition, ev.timestamp);
    }
  }

  /**
   * Drops the rows after a savepoint (or all of them). The server writes ROLLBACK TO / ROLLBACK
   * with the rolled-back rows in the binlog only when the transaction also changed a
   * non-transactional table; else the rows are simply absent.
   */
  private rollBack(savepoint: string | undefined, pos: number): void {
    const open = this.open;
    if (!open) return;
    // An unknown savepoint cannot be rolled back to by the server (the statement fails and is not logged).
    const keep = savepoint === undefined ? 0 : (open.savepoints.get(savepoint) ?? 0);
    if (keep < open.handedOver) {
      throw new BridgeError(
        'UCW_ERR_SOURCE_ROLLBACK_IN_PART',
        `a transaction rolled back rows already handed over in parts, at ` +
          `binlog ${this.file}:${pos} (transaction from ${this.file}:${open.start.pos})`,
        {
          hint:
            `Nothing of it was delivered. Raise --max-queued-rows to at least 4 times the transaction's ` +
            `rows on watched tables (a part is a quarter of it), so it is held whole, and restart.`,
          details: {
            position: `${this.file}:${pos}`,
            transactionStart: `${open.start.file}:${open.start.pos}`,
            handedOverRows: open.handedOver,
          },
        },
      );
    }
    open.pending.length = keep - open.handedOver;
    for (const [name, at] of open.savepoints) if (at > keep) open.savepoints.delete(name);
  }

  private onXaPrepare(ev: BinlogEventByName<'xaprepare'>): void {
    const open = this.open;
    const rows = open ? open.handedOver + open.pending.length : 0;
    if (ev.onePhase || rows === 0) {
      // XA COMMIT ... ONE PHASE commits here; a prepare with no watched row is nothing of ours.
      this.commit(ev.nextPosition, ev.timestamp);
      return;
    }
    const at = `${this.file}:${ev.nextPosition}`;
    throw new BridgeError(
      'UCW_ERR_SOURCE_XA_UNSUPPORTED',
      `an XA transaction changed ${rows} row(s) of watched tables (XA ` +
        `PREPARE at binlog ${at}); the bridge does not deliver XA transactions`,
      {
        hint:
          'Nothing of it was delivered: whether it commits is decided later (XA COMMIT or XA ROLLBACK). ' +
          'Stop using two-phase XA on watched tables (XA COMMIT ... ONE PHASE is fine); to go past this ' +
          'one, start once with --reset-to-now, which skips everything up to the current end of the binlog.',
        details: { position: at, transactionStart: `${open!.start.file}:${open!.start.pos}` },
      },
    );
  }

  private onRows(ev: RowsEvent): void {
    const meta = ev.tableMap[ev.tableId];
    if (!meta) return;
    const schema = meta.parentSchema;
    const tableName = meta.tableName;
    const table = `${schema}.${tableName}`;
    if (!this.opts.watched.has(table)) return;
    const open = this.current(ev.nextPosition);
    // A part goes over once the next rows event of the same transaction comes: a transaction of
    // exactly partRows rows is then still handed over whole, with its commit.
    this.handOverPartIfLarge(open, ev.timestamp);
    const tx = (open.ref ??= this.refOf(open));
    const pending = open.pending;
    let ordinal = open.ordinals.get(table) ?? 0;
    const timestampMs = ev.timestamp;
    // One literal per row, fields in RowChange's order: every change has the same shape (spreading a
    // shared base object was the biggest allocation of the read path).
    if (is(ev, 'updaterows')) {
      for (const r of ev.rows) {
        pending.push({
          kind: 'update',
          schema,
          table: tableName,
          before: r.before,
          after: r.after,
          tx,
          ordinal: ordinal++,
          timestampMs,
        });
      }
    } else {
      const insert = is(ev, 'writerows');
      for (const r of ev.rows) {
        pending.push({
          kind: insert ? 'insert' : 'delete',
          schema,
          table: tableName,
          before: insert ? null : r,
          after: insert ? r : null,
          tx,
          ordinal: ordinal++,
          timestampMs,
        });
      }
    }
    open.ordinals.set(table, ordinal);
  }

  private refOf(open: OpenTransaction): TransactionRef {
    if (open.gtid !== undefined) return { id: `gtid:${open.gtid}`, start: open.start };
    const pos = open.firstPos > 0 ? open.firstPos : open.start.pos;
    return { id: `pos:${open.start.file}:${pos}`, start: open.start };
  }

  private commit(nextPosition: number, timestampMs: number): void {
    const changes = this.open?.pending ?? [];
    const gtid = this.open?.gtid;
    this.open = undefined;
    this.boundary = { file: this.file, pos: nextPosition };
    this.opts.handOver({ changes, partial: false, commit: this.boundary, timestampMs, gtid });
  }

  /**
   * Hands a large open transaction over in parts, so memory is bounded by the part size (plus one
   * rows event) rather than the transaction size; the handler keeps parts uncommitted until the
   * final one.
   */
  private handOverPartIfLarge(open: OpenTransaction, timestampMs: number): void {
    if (open.pending.length < this.opts.partRows) return;
    const changes = open.pending;
    open.pending = [];
    open.handedOver += changes.length;
    this.opts.handOver({ changes, partial: true, commit: this.boundary, timestampMs });
  }
}
