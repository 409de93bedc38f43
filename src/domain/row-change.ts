// Row changes and binlog coordinates: what the source hands to the rules, free of any library type.
// A change is named by its transaction's identity plus its ordinal among that transaction's rows of
// the same table: unique and stable across replays, even where rows events carry no position.

export type Row = Readonly<Record<string, unknown>>;

export type ChangeKind = 'insert' | 'update' | 'delete';

export interface BinlogPosition {
  readonly file: string;
  readonly pos: number;
}

/** Identity and place of a source transaction. */
export interface TransactionRef {
  /**
   * `gtid:<GTID>` where the server gives one, else `pos:<file>:<offset>` with the end of the
   * transaction's first event that has a real (non-zero) position, else its start.
   */
  readonly id: string;
  /** Where the transaction starts: the resume point right before it (monotonic within a file). */
  readonly start: BinlogPosition;
}

export interface RowChange {
  readonly kind: ChangeKind;
  readonly schema: string;
  readonly table: string;
  /** Row image before the change (update, delete). */
  readonly before: Row | null;
  /** Row image after the change (insert, update). */
  readonly after: Row | null;
  /** The source transaction that carried the change (one object shared by all its changes). */
  readonly tx: TransactionRef;
  /** Index of this change among its transaction's changes of the same table, in binlog order, from 0. */
  readonly ordinal: number;
  /** Binlog event timestamp, epoch milliseconds (second precision on the server). */
  readonly timestampMs: number;
}

/**
 * A source transaction's row changes on watched tables, handed over in binlog order. A large
 * transaction comes in several parts: every part but the last is `partial`, and only the last one
 * carries the commit, so nothing of it may count as committed before that.
 */
export interface SourceTransaction {
  readonly changes: readonly RowChange[];
  /** True when more parts of the same transaction follow (no commit yet). */
  readonly partial: boolean;
  /** Resume point: the position right after the commit event (last part only; else the previous one). */
  readonly commit: BinlogPosition;
  /** Commit timestamp, epoch milliseconds (of the last row event for a partial part). */
  readonly timestampMs: number;
  /** The server's GTID of the transaction, when it sent one (last part only). */
  readonly gtid?: string | undefined;
}

export function tableId(schema: string, table: string): string {
  return `${schema}.${table}`;
}

export function formatPosition(p: BinlogPosition): string {
  return `${p.file}:${p.pos}`;
}
