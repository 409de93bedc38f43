// What a binlog Query event means for transaction boundaries. Only statements that end a group
// (COMMIT, ROLLBACK, DDL and other standalone statements) are boundaries; SAVEPOINT, ROLLBACK TO,
// RELEASE SAVEPOINT and XA END are written inside a transaction and must not split it.

export type QueryKind =
  | { readonly kind: 'begin' }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback' }
  | { readonly kind: 'savepoint'; readonly name: string }
  | { readonly kind: 'rollbackTo'; readonly name: string }
  | { readonly kind: 'inside' }
  | { readonly kind: 'other' };

const BEGIN: QueryKind = { kind: 'begin' };
const COMMIT: QueryKind = { kind: 'commit' };
const ROLLBACK: QueryKind = { kind: 'rollback' };
const INSIDE: QueryKind = { kind: 'inside' };
const OTHER: QueryKind = { kind: 'other' };

const SAVEPOINT = /^SAVEPOINT\s+(.+?)\s*;?$/i;
const ROLLBACK_TO = /^ROLLBACK\s+(?:WORK\s+)?TO\s+(?:SAVEPOINT\s+)?(.+?)\s*;?$/i;
const RELEASE = /^RELEASE\s+SAVEPOINT\s/i;
const XA_START = /^XA\s+(?:START|BEGIN)\s/i;
const XA_END = /^XA\s+END\s/i;
const WORD = /^[A-Z]+/i;

/** Savepoint names are case-insensitive identifiers, written back-quoted by the server. */
function savepointName(raw: string): string {
  const unquoted = raw.startsWith('`') && raw.endsWith('`') ? raw.slice(1, -1).replaceAll('``', '`') : raw;
  return unquoted.toLowerCase();
}

export function classifyQuery(sql: string): QueryKind {
  const q = sql.trim();
  const first = WORD.exec(q)?.[0].toUpperCase();
  switch (first) {
    case 'BEGIN':
      return BEGIN;
    case 'COMMIT':
      return COMMIT;
    case 'ROLLBACK': {
      const to = ROLLBACK_TO.exec(q);
      return to ? { kind: 'rollbackTo', name: savepointName(to[1]!) } : ROLLBACK;
    }
    case 'SAVEPOINT': {
      const m = SAVEPOINT.exec(q);
      return m ? { kind: 'savepoint', name: savepointName(m[1]!) } : OTHER;
    }
    case 'RELEASE':
      return RELEASE.test(q) ? INSIDE : OTHER;
    case 'XA':
      // XA START opens a transaction (MySQL writes it where BEGIN would be); XA END is inside one.
      // XA PREPARE comes as its own event; XA COMMIT / XA ROLLBACK are standalone groups.
      if (XA_START.test(q)) return BEGIN;
      return XA_END.test(q) ? INSIDE : OTHER;
    default:
      return OTHER;
  }
}
