// An in-memory mirror of one directory table (users, dispositions, ...): rows by primary key, indexes
// for reference matching (username or `SIP/2001` -> phone), and the ancestor chain for tree tables.
// It changes only through load() and apply(), in binlog order, so a lookup sees the state of the
// table as of the row change being evaluated. It keeps only `columns` of each row (those the rules
// read), so a column no rule reads (a password hash) is never held.

import type { Row } from '../domain/row-change.js';
import type { DirectoryDef } from './schema.js';

interface Matcher {
  column: string;
  pattern: RegExp | undefined;
  index: Map<string, string>;
}

const MAX_TREE_DEPTH = 32;

export function keyString(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** The row with only `columns` (those it has), in that order. */
export function projectRow(row: Row, columns: readonly string[]): Row {
  const out: Record<string, unknown> = {};
  for (const c of columns) if (Object.hasOwn(row, c)) out[c] = row[c];
  return out;
}

export class Directory {
  readonly table: string;
  readonly keyColumn: string;
  /** The columns kept of each row: key, match and parent columns, and those lookups read. */
  readonly columns: readonly string[];
  private readonly rows = new Map<string, Row>();
  private readonly matchers: Matcher[];
  private readonly parent: { column: string; root: string | undefined } | undefined;

  constructor(def: DirectoryDef, columns: readonly string[]) {
    this.table = def.table;
    this.keyColumn = def.key;
    this.columns = columns;
    const match = def.match ?? [{ column: def.key }];
    this.matchers = match.map((m) => ({
      column: m.column,
      pattern: m.pattern === undefined ? undefined : new RegExp(m.pattern),
      index: new Map(),
    }));
    this.parent = def.parent ? { column: def.parent.column, root: keyString(def.parent.root) } : undefined;
  }

  get size(): number {
    return this.rows.size;
  }

  load(rows: Iterable<Row>): void {
    this.rows.clear();
    for (const m of this.matchers) m.index.clear();
    for (const row of rows) this.upsert(projectRow(row, this.columns));
  }

  /** Applies one row change (insert: after only; delete: before only; update: both). */
  apply(before: Row | null, after: Row | null): void {
    if (before) this.remove(before, after);
    if (after) this.upsert(projectRow(after, this.columns));
  }

  /** The row a reference resolves to, trying each match rule in order. */
  resolve(reference: unknown): Row | undefined {
    const ref = keyString(reference);
    if (ref === undefined || ref === '') return undefined;
    for (const m of this.matchers) {
      let probe: string | undefined = ref;
      if (m.pattern) {
        const hit = m.pattern.exec(ref);
        probe = hit?.[1];
      }
      if (probe === undefined) continue;
      const pk = m.index.get(probe);
      if (pk !== undefined) return this.rows.get(pk);
    }
    return undefined;
  }

  /** Root-first chain of rows ending at the row `reference` resolves to (tree directories). */
  chain(reference: unknown): Row[] {
    const chain: Row[] = [];
    let row = this.resolve(reference);
    const seen = new Set<string>();
    while (row && chain.length < MAX_TREE_DEPTH) {
      const pk = keyString(row[this.keyColumn]);
      // A parent cycle ends the chain instead of repeating a row.
      if (pk !== undefined && seen.has(pk)) break;
      chain.unshift(row);
      if (pk === undefined) break;
      seen.add(pk);
      if (!this.parent) break;
      const parentKey = keyString(row[this.parent.column]);
      if (parentKey === undefined || parentKey === this.parent.root) break;
      row = this.rows.get(parentKey);
    }
    return chain;
  }

  private upsert(row: Row): void {
    const pk = keyString(row[this.keyColumn]);
    if (pk === undefined) return;
    const old = this.rows.get(pk);
    if (old) this.remove(old, row);
    this.rows.set(pk, row);
    for (const m of this.matchers) {
      const v = keyString(row[m.column]);
      // First writer wins for a shared extension; the primary-key matcher is unique anyway.
      if (v !== undefined && v !== '' && !m.index.has(v)) m.index.set(v, pk);
    }
  }

  /** Removes a row; `replacement` (its new image, if any) keeps the index slots whose value it keeps. */
  private remove(row: Row, replacement?: Row | null): void {
    const pk = keyString(row[this.keyColumn]);
    if (pk === undefined) return;
    const current = this.rows.get(pk);
    if (!current) return;
    this.rows.delete(pk);
    const sameRow = replacement && keyString(replacement[this.keyColumn]) === pk ? replacement : undefined;
    for (const m of this.matchers) {
      const v = keyString(current[m.column]);
      // Same row, same value (e.g. only the name changed): the row keeps a shared value's slot.
      if (sameRow && v !== undefined && keyString(sameRow[m.column]) === v) continue;
      if (v !== undefined && m.index.get(v) === pk) {
        m.index.delete(v);
        this.reindex(m, v);
      }
    }
  }

  /** After removing the holder of `value`, another row with the same value (if any) takes the slot. */
  private reindex(m: Matcher, value: string): void {
    for (const [pk, row] of this.rows) {
      if (keyString(row[m.column]) === value) {
        m.index.set(value, pk);
        return;
      }
    }
  }
}
