// Row changes and binlog coordinates: what the source hands to the rules, free of any library type.
// A change's position is the binlog file plus the end offset of the rows event that carried it,
// plus the row's index in that event: together unique and stable across replays of one binlog.

export type Row = Readonly<Record<string, unknown>>;

export type ChangeKind = 'insert' | 'update' | 'delete';

export interface BinlogPosition {
  readonly file: string;
  readonly pos: number;
}

export interface RowChange {
  readonly kind: ChangeKind;
  readonly schema: string;
  readonly table: string;
  /** Row image before the change (update, delete). */
  readonly before: Row | null;
  /** Row image after the change (insert, update). */
  readonly after: Row | null;
  /** Binlog file of the rows event. */
  readonly file: string;
  /** End offset (next position) of the rows event in `file`. */
  readonly eventPos: number;
  /** Index of this row within its rows event. */
  readonly rowIndex: number;
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
}

export function tableId(schema: string, table: string): string {
  return `${schema}.${table}`;
}

export function formatPosition(p: BinlogPosition): string {
  return `${p.file}:${p.pos}`;
}
