// `check`: which grants the bridge user lacks, read from its SHOW GRANTS statements (pure). The
// privileges a statement gives are matched against what the bridge needs: REPLICATION SLAVE (the
// binlog stream), BINLOG MONITOR / REPLICATION CLIENT (the binlog end and files) and SELECT on every
// table the rules read. Write privileges it should not have are preflight.ts's readOnlyCheck.

import type { CheckResult } from '../check-result.js';

interface Grant {
  readonly privileges: ReadonlySet<string>;
  /** Database name or LIKE pattern ('*' for every database), as the server wrote it, unquoted. */
  readonly db: string;
  /** Table name ('*' for every table of db). */
  readonly table: string;
}

const NAME = String.raw`(\*|\x60(?:[^\x60]|\x60\x60)+\x60|[^.\s\x60]+)`;
const GRANT_RE = new RegExp(String.raw`^GRANT (.+?) ON ${NAME}\.${NAME} TO `, 'i');

function unquote(name: string): string {
  return name.startsWith('`') ? name.slice(1, -1).replace(/``/g, '`') : name;
}

/** The privileges and scope of one GRANT statement; undefined for role grants and PROXY. */
export function parseGrant(statement: string): Grant | undefined {
  const m = GRANT_RE.exec(statement);
  if (!m) return undefined;
  const privileges = new Set(
    m[1]!
      // Column privileges carry their columns: "SELECT (`a`, `b`), UPDATE (`c`)".
      .replace(/\s*\([^)]*\)/g, '')
      .split(',')
      .map((p) => p.trim().toUpperCase()),
  );
  return { privileges, db: unquote(m[2]!), table: unquote(m[3]!) };
}

/** A database-level grant's name is a LIKE pattern: `_` and `%` are wildcards unless escaped with `\`. */
function dbMatches(pattern: string, db: string): boolean {
  if (pattern === '*') return true;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`).test(db);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function gives(g: Grant, privilege: string): boolean {
  return g.privileges.has(privilege) || g.privileges.has('ALL PRIVILEGES') || g.privileges.has('ALL');
}

/** Whether the grants give `privilege` on `schema.table` (or globally, with table undefined). */
function has(grants: readonly Grant[], privilege: string, table?: string): boolean {
  const [db, name] = table === undefined ? ['*', '*'] : (table.split('.') as [string, string]);
  return grants.some((g) => {
    if (!gives(g, privilege)) return false;
    if (g.db === '*') return true;
    if (table === undefined) return false;
    // Table-level grants name the database exactly (no wildcards).
    return g.table === '*' ? dbMatches(g.db, db) : g.db === db && g.table === name;
  });
}

/** Every replication-privilege spelling the server accepts for reading the binlog's end and files. */
function hasBinlogMonitor(grants: readonly Grant[], isMariaDb: boolean): boolean {
  // MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR (the old name is an alias); on MySQL,
  // SUPER also allows SHOW BINARY LOGS and SHOW BINARY LOG STATUS.
  const names = isMariaDb ? ['BINLOG MONITOR', 'REPLICATION CLIENT'] : ['REPLICATION CLIENT', 'SUPER'];
  return names.some((n) => has(grants, n));
}

export interface GrantNeeds {
  readonly isMariaDb: boolean;
  /** Every `schema.table` the rules read (snapshots, lookups, the registry). */
  readonly tables: readonly string[];
}

/**
 * One result per grant the bridge needs, from the SHOW GRANTS statements of its session (the user's
 * and its default role's, as the bridge's own connections have them).
 */
export function grantChecks(statements: readonly string[], needs: GrantNeeds): CheckResult[] {
  const grants = statements.map(parseGrant).filter((g): g is Grant => g !== undefined);
  const monitor = needs.isMariaDb ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
  const out: CheckResult[] = [];
  out.push(
    has(grants, 'REPLICATION SLAVE')
      ? { name: 'grant REPLICATION SLAVE', status: 'OK', message: 'the user may read the binlog stream' }
      : {
          name: 'grant REPLICATION SLAVE',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_GRANTS',
          message: 'the user lacks REPLICATION SLAVE: it cannot read the binlog stream',
          hint: 'GRANT REPLICATION SLAVE ON *.* TO the bridge user (README "Grants").',
        },
  );
  out.push(
    hasBinlogMonitor(grants, needs.isMariaDb)
      ? { name: `grant ${monitor}`, status: 'OK', message: 'the user may read the binlog position and files' }
      : {
          name: `grant ${monitor}`,
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_GRANTS',
          message: `the user lacks ${monitor}: it cannot read the binlog end on its first start, nor the binlog files`,
          hint: `GRANT ${monitor} ON *.* TO the bridge user (README "Grants").`,
        },
  );
  const missing = needs.tables.filter((t) => !has(grants, 'SELECT', t));
  out.push(
    missing.length === 0
      ? {
          name: 'grant SELECT',
          status: 'OK',
          message: `the user may read the ${needs.tables.length} tables the rules use`,
        }
      : {
          name: 'grant SELECT',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_GRANTS',
          message: `the user lacks SELECT on ${missing.join(', ')}`,
          hint:
            [...new Set(missing.map((t) => t.split('.')[0]!))].map((s) => `GRANT SELECT ON ${s}.*`).join('; ') +
            ' TO the bridge user (README "Grants").',
        },
  );
  return out;
}
