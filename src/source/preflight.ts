// Start-up (and reconnect) checks of the source server's binlog settings. A server that cannot give
// full row images is refused with a coded error before any event is read, because events built from
// partial rows would silently carry wrong or missing fields.

import { BridgeError, type WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerSettings, SourceDb } from './source-db.js';

/** What preflight reads of the source (a recorded fake in unit tests). */
export type PreflightDb = Pick<SourceDb, 'conn' | 'settings' | 'grants' | 'roleGrants'>;

export async function preflight(db: PreflightDb, log: Logger): Promise<ServerSettings> {
  const s = await db.settings();
  if (!s.logBin) {
    throw new BridgeError('UCW_ERR_SOURCE_BINLOG_DISABLED', `binary logging is off on ${db.conn.display}`, {
      hint: 'Start the server with log_bin (and server_id), binlog_format=ROW, binlog_row_image=FULL.',
    });
  }
  if (s.binlogFormat !== 'ROW') {
    throw new BridgeError(
      'UCW_ERR_SOURCE_BINLOG_FORMAT',
      `binlog_format is ${s.binlogFormat} on ${db.conn.display}; the bridge needs ROW`,
      {
        hint: 'SET GLOBAL binlog_format = ROW (and set it in the server config so it survives a restart).',
      },
    );
  }
  if (s.binlogRowImage !== 'FULL') {
    throw new BridgeError(
      'UCW_ERR_SOURCE_ROW_IMAGE',
      `binlog_row_image is ${s.binlogRowImage} on ${db.conn.display}; the bridge needs FULL`,
      {
        hint: 'SET GLOBAL binlog_row_image = FULL (and set it in the server config).',
      },
    );
  }
  // zongji cannot read compressed transaction payloads nor partial JSON updates: every read of
  // such an event fails, so the bridge would reconnect to the same position forever.
  if (
    s.binlogTransactionCompression !== undefined &&
    ['1', 'ON'].includes(s.binlogTransactionCompression.toUpperCase())
  ) {
    throw new BridgeError(
      'UCW_ERR_SOURCE_BINLOG_COMPRESSION',
      `binlog_transaction_compression is ON on ${db.conn.display}; the bridge cannot read compressed transactions`,
      {
        hint:
          'SET GLOBAL binlog_transaction_compression = OFF (and in the server config). Transactions ' +
          'written while it was ON stay unreadable (see docs/errors.md, UCW_ERR_SOURCE_STUCK).',
      },
    );
  }
  if (s.binlogRowValueOptions !== undefined && /PARTIAL_JSON/i.test(s.binlogRowValueOptions)) {
    throw new BridgeError(
      'UCW_ERR_SOURCE_PARTIAL_JSON',
      `binlog_row_value_options is PARTIAL_JSON on ${db.conn.display}; the bridge needs whole JSON values`,
      {
        hint: "SET GLOBAL binlog_row_value_options = '' (and in the server config).",
      },
    );
  }
  if (s.binlogRowMetadata !== 'FULL') {
    log.warn(
      {
        code: 'UCW_WARN_SOURCE_ROW_METADATA' satisfies WarningCode,
        binlogRowMetadata: s.binlogRowMetadata ?? 'unsupported',
      },
      'binlog_row_metadata is not FULL: column names are read from INFORMATION_SCHEMA (needs SELECT) ' +
        'and an ALTER TABLE can be misread; SET GLOBAL binlog_row_metadata = FULL is recommended',
    );
  }
  await warnIfWritable(db, log);
  return s;
}

/**
 * Privileges that cannot change the source (data, users, logs, files or settings). Any other one is
 * reported: table writes, and also BINLOG ADMIN, RELOAD, FILE, CREATE USER, SUPER, *_ADMIN, EXECUTE...
 */
const READ_ONLY_PRIVILEGES = new Set([
  'USAGE',
  'SELECT',
  'SHOW VIEW',
  'SHOW DATABASES',
  'PROCESS',
  'REFERENCES',
  'CREATE TEMPORARY TABLES',
  'REPLICATION SLAVE',
  'REPLICATION CLIENT',
  'BINLOG MONITOR',
  'SLAVE MONITOR',
  'REPLICA MONITOR',
  'PROXY',
]);

/** The privileges a set of GRANT statements gives that could change the source, as "PRIV ON scope" (pure). */
export function writePrivileges(grants: readonly string[]): string[] {
  const found = new Set<string>();
  for (const g of grants) {
    const m = /^GRANT (.+?) ON (\S+) TO .*?( WITH GRANT OPTION)?$/i.exec(g);
    if (!m) continue;
    // Column privileges carry their columns: "SELECT (`a`, `b`), UPDATE (`c`)".
    const privileges = m[1]!
      .replace(/\s*\([^)]*\)/g, '')
      .split(',')
      .map((p) => p.trim().toUpperCase());
    if (m[3]) privileges.push('GRANT OPTION');
    for (const p of privileges) if (!READ_ONLY_PRIVILEGES.has(p)) found.add(`${p} ON ${m[2]}`);
  }
  return [...found];
}

/** Roles granted in a set of GRANT statements ("GRANT `r` TO ..."), quoted as the server wrote them. */
export function grantedRoles(grants: readonly string[]): string[] {
  const roles: string[] = [];
  for (const g of grants) {
    const m = /^GRANT ((?:`[^`]+`(?:@`[^`]*`)?)(?:\s*,\s*`[^`]+`(?:@`[^`]*`)?)*) TO /i.exec(g);
    if (m) roles.push(...m[1]!.split(/\s*,\s*/));
  }
  return roles;
}

/**
 * The user's grants and those of every role it may SET ROLE to (SHOW GRANTS lists only the default
 * role's), nested roles included.
 */
async function allGrants(db: PreflightDb): Promise<string[]> {
  const grants = await db.grants();
  const seen = new Set<string>();
  let pending = grantedRoles(grants);
  while (pending.length > 0) {
    for (const r of pending) seen.add(r);
    const more = await db.roleGrants(pending);
    grants.push(...more);
    pending = [...new Set(grantedRoles(more))].filter((r) => !seen.has(r));
  }
  return grants;
}

async function warnIfWritable(db: PreflightDb, log: Logger): Promise<void> {
  let grants: string[];
  try {
    grants = await allGrants(db);
  } catch (err) {
    log.debug({ err }, 'SHOW GRANTS failed; privilege check skipped');
    return;
  }
  const writable = writePrivileges(grants);
  if (writable.length > 0) {
    log.warn(
      { code: 'UCW_WARN_SOURCE_WRITABLE' satisfies WarningCode, privileges: writable },
      'the bridge user could change the source (directly or through a role); it never ' +
        'does, but least privilege says it should not be able to: use a user with only ' +
        'REPLICATION SLAVE, BINLOG MONITOR/REPLICATION CLIENT and SELECT (README "Grants")',
    );
  }
}
