// Turns the binlog's events (as zongji decodes them) into source transactions of watched tables:
// where a transaction starts and ends, and what identity its row changes get. Invariant: a change's
// identity depends only on its transaction and its place there, never on a rows event's log offset.

import type { AnyBinlogEvent, BinlogEventByName, BinlogEventName } from '@vlasky/zongji';
import type { BinlogPosition, RowChange, SourceTransaction, TransactionRef } from '../domain/row-change.js';

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
    if (is(ev, 'xid') || is(ev, 'xaprepare')) {
      this.commit(ev.nextPosition, ev.timestamp);
      return;
    }
    if (is(ev, 'query')) {
      if (ev.query.trim().toUpperCase() === 'BEGIN') this.current(ev.nextPosition);
      // COMMIT of a non-transactional table, or DDL / any standalone statement: a group boundary.
      else this.commit(ev.nextPosition, ev.timestamp);
    }
  }

  private begin(gtid: string | undefined, pos: number): void {
    // A group left without its end (none is known to occur) is dropped, as before: it never committed.
    this.open = { start: this.boundary, gtid, firstPos: pos, ref: undefined, pending: [], handedOver: 0, ordinals: new Map() };
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
        pending.push({ kind: 'update', schema, table: tableName, before: r.before, after: r.after, tx, ordinal: ordinal++, timestampMs });
      }
    } else {
      const insert = is(ev, 'writerows');
      for (const r of ev.rows) {
        pending.push({ kind: insert ? 'insert' : 'delete', schema, table: tableName, before: insert ? null : r, after: insert ? r : null, tx, ordinal: ordinal++, timestampMs });
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
    this.open = undefined;
    this.boundary = { file: this.file, pos: nextPosition };
    this.opts.handOver({ changes, partial: false, commit: this.boundary, timestampMs });
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
