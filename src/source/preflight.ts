// Start-up (and reconnect) checks of the source server's binlog settings. A server that cannot give
// full row images is refused with a coded error before any event is read, because events built from
// partial rows would silently carry wrong or missing fields.

import type { CheckResult } from '../check-result.js';
import { BridgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerSettings, SourceDb } from './source-db.js';

/** What preflight reads of the source (a recorded fake in unit tests). */
export type PreflightDb = Pick<SourceDb, 'conn' | 'settings' | 'grants' | 'roleGrants'>;

/**
 * Start-up (and reconnect) preflight: the first FAIL of settingChecks is thrown as its coded error;
 * WARNs (binlog_row_metadata, write privileges) are logged and the bridge goes on.
 */
export async function preflight(db: PreflightDb, log: Logger): Promise<ServerSettings> {
  const s = await db.settings();
  for (const c of settingChecks(s, db.conn.display)) {
    if (c.status === 'FAIL') throw new BridgeError(c.code as ErrorCode, c.message, { hint: c.hint });
    if (c.status === 'WARN') log.warn({ code: c.code, ...c.details }, c.message);
  }
  let grants: string[];
  try {
    grants = await allGrants(db);
  } catch (err) {
    log.debug({ err }, 'SHOW GRANTS failed; privilege check skipped');
    return s;
  }
  const writable = readOnlyCheck(grants);
  if (writable.status === 'WARN') log.warn({ code: writable.code, ...writable.details }, writable.message);
  return s;
}

const isOn = (v: string): boolean => ['1', 'ON'].includes(v.toUpperCase());

/**
 * The binlog settings the bridge needs, one result per setting, in the order preflight refuses them
 * (pure). `display` names the server in messages (host:port, never credentials).
 */
export function settingChecks(s: ServerSettings, display: string): CheckResult[] {
  const out: CheckResult[] = [];
  out.push(
    s.logBin
      ? { name: 'log_bin', status: 'OK', message: 'binary logging is on' }
      : {
          name: 'log_bin',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_BINLOG_DISABLED',
          message: `binary logging is off on ${display}`,
          hint: 'Start the server with log_bin (and server_id), binlog_format=ROW, binlog_row_image=FULL.',
        },
  );
  out.push(
    s.binlogFormat === 'ROW'
      ? { name: 'binlog_format', status: 'OK', message: 'binlog_format is ROW' }
      : {
          name: 'binlog_format',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_BINLOG_FORMAT',
          message: `binlog_format is ${s.binlogFormat} on ${display}; the bridge needs ROW`,
          hint: 'SET GLOBAL binlog_format = ROW (and set it in the server config so it survives a restart).',
        },
  );
  out.push(
    s.binlogRowImage === 'FULL'
      ? { name: 'binlog_row_image', status: 'OK', message: 'binlog_row_image is FULL' }
      : {
          name: 'binlog_row_image',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_ROW_IMAGE',
          message: `binlog_row_image is ${s.binlogRowImage} on ${display}; the bridge needs FULL`,
          hint: 'SET GLOBAL binlog_row_image = FULL (and set it in the server config).',
        },
  );
  // zongji cannot read compressed transaction payloads nor partial JSON updates: every read of
  // such an event fails, so the bridge would reconnect to the same position forever.
  const compression = s.binlogTransactionCompression;
  out.push(
    compression === undefined || !isOn(compression)
      ? {
          name: 'binlog_transaction_compression',
          status: 'OK',
          message:
            compression === undefined
              ? 'not on this server (a MySQL 8.0.20+ setting)'
              : 'binlog_transaction_compression is OFF',
        }
      : {
          name: 'binlog_transaction_compression',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_BINLOG_COMPRESSION',
          message: `binlog_transaction_compression is ON on ${display}; the bridge cannot read compressed transactions`,
          hint:
            'SET GLOBAL binlog_transaction_compression = OFF (and in the server config). Transactions ' +
            'written while it was ON stay unreadable (see docs/errors.md, UCW_ERR_SOURCE_STUCK).',
        },
  );
  const valueOptions = s.binlogRowValueOptions;
  out.push(
    valueOptions === undefined || !/PARTIAL_JSON/i.test(valueOptions)
      ? {
          name: 'binlog_row_value_options',
          status: 'OK',
          message:
            valueOptions === undefined
              ? 'not on this server (a MySQL 8.0.3+ setting)'
              : 'binlog_row_value_options has no PARTIAL_JSON',
        }
      : {
          name: 'binlog_row_value_options',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_PARTIAL_JSON',
          message: `binlog_row_value_options is PARTIAL_JSON on ${display}; the bridge needs whole JSON values`,
          hint: "SET GLOBAL binlog_row_value_options = '' (and in the server config).",
        },
  );
  out.push(
    s.binlogRowMetadata === 'FULL'
      ? { name: 'binlog_row_metadata', status: 'OK', message: 'binlog_row_metadata is FULL' }
      : {
          name: 'binlog_row_metadata',
          status: 'WARN',
          code: 'UCW_WARN_SOURCE_ROW_METADATA',
          message:
            `binlog_row_metadata is ${s.binlogRowMetadata ?? 'not supported by this server'}: column names are ` +
            'read from INFORMATION_SCHEMA (needs SELECT) and an ALTER TABLE can be misread',
          hint: 'SET GLOBAL binlog_row_metadata = FULL (MySQL 8.0.1+, MariaDB 10.5+) and in the server config.',
          details: { binlogRowMetadata: s.binlogRowMetadata ?? 'unsupported' },
        },
  );
  return out;
}

/** Whether a set of GRANT statements (the user's and its roles') could change the source (pure). */
export function readOnlyCheck(grants: readonly string[]): CheckResult {
  const writable = writePrivileges(grants);
  if (writable.length === 0) {
    return { name: 'read-only user', status: 'OK', message: 'the user cannot change the source' };
  }
  return {
    name: 'read-only user',
    status: 'WARN',
    code: 'UCW_WARN_SOURCE_WRITABLE',
    message:
      'the bridge user could change the source (directly or through a role); it never does, but least ' +
      `privilege says it should not be able to: ${writable.join(', ')}`,
    hint: 'Use a user with only REPLICATION SLAVE, BINLOG MONITOR/REPLICATION CLIENT and SELECT (README "Grants").',
    details: { privileges: writable },
  };
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
export async function allGrants(db: Pick<PreflightDb, 'grants' | 'roleGrants'>): Promise<string[]> {
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
