// Start-up (and reconnect) checks of the source server's binlog settings. A server that cannot give
// full row images is refused with a coded error before any event is read, because events built from
// partial rows would silently carry wrong or missing fields.

import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerSettings, SourceDb } from './source-db.js';

/** What preflight reads of the source (a recorded fake in unit tests). */
export type PreflightDb = Pick<SourceDb, 'conn' | 'settings' | 'grants'>;

export async function preflight(db: PreflightDb, log: Logger): Promise<ServerSettings> {
  const s = await db.settings();
  if (!s.logBin) {
    throw new BridgeError('UCW_ERR_SOURCE_BINLOG_DISABLED', `binary logging is off on ${db.conn.display}`, {
      hint: 'Start the server with log_bin (and server_id), binlog_format=ROW, binlog_row_image=FULL.',
    });
  }
  if (s.binlogFormat !== 'ROW') {
    throw new BridgeError('UCW_ERR_SOURCE_BINLOG_FORMAT', `binlog_format is ${s.binlogFormat} on ${db.conn.display}; the bridge needs ROW`, {
      hint: 'SET GLOBAL binlog_format = ROW (and set it in the server config so it survives a restart).',
    });
  }
  if (s.binlogRowImage !== 'FULL') {
    throw new BridgeError('UCW_ERR_SOURCE_ROW_IMAGE', `binlog_row_image is ${s.binlogRowImage} on ${db.conn.display}; the bridge needs FULL`, {
      hint: 'SET GLOBAL binlog_row_image = FULL (and set it in the server config).',
    });
  }
  // zongji cannot read compressed transaction payloads nor partial JSON updates: every read of
  // such an event fails, so the bridge would reconnect to the same position forever.
  if (s.binlogTransactionCompression !== undefined && ['1', 'ON'].includes(s.binlogTransactionCompression.toUpperCase())) {
    throw new BridgeError('UCW_ERR_SOURCE_BINLOG_COMPRESSION', `binlog_transaction_compression is ON on ${db.conn.display}; the bridge cannot read compressed transactions`, {
      hint: 'SET GLOBAL binlog_transaction_compression = OFF (and in the server config). Transactions written while it was ON stay unreadable (see README Troubleshooting, UCW_ERR_SOURCE_STUCK).',
    });
  }
  if (s.binlogRowValueOptions !== undefined && /PARTIAL_JSON/i.test(s.binlogRowValueOptions)) {
    throw new BridgeError('UCW_ERR_SOURCE_PARTIAL_JSON', `binlog_row_value_options is PARTIAL_JSON on ${db.conn.display}; the bridge needs whole JSON values`, {
      hint: "SET GLOBAL binlog_row_value_options = '' (and in the server config).",
    });
  }
  if (s.binlogRowMetadata !== 'FULL') {
    log.warn(
      { code: 'UCW_WARN_SOURCE_ROW_METADATA', binlogRowMetadata: s.binlogRowMetadata ?? 'unsupported' },
      'binlog_row_metadata is not FULL: column names are read from INFORMATION_SCHEMA (needs SELECT) and an ALTER TABLE can be misread; SET GLOBAL binlog_row_metadata = FULL is recommended',
    );
  }
  await warnIfWritable(db, log);
  return s;
}

/** Privileges that would let the bridge user change the source (it never does; least privilege says it must not be able to). */
const WRITE_PRIVILEGES = ['ALL PRIVILEGES', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'TRIGGER', 'SUPER'];

/** The write privileges a set of GRANT statements gives, as "PRIV ON scope" (pure, for tests). */
export function writePrivileges(grants: readonly string[]): string[] {
  const found: string[] = [];
  for (const g of grants) {
    const m = /^GRANT (.+?) ON (\S+) TO /i.exec(g);
    if (!m) continue;
    const privileges = m[1]!.split(',').map((p) => p.trim().toUpperCase());
    for (const p of privileges) if (WRITE_PRIVILEGES.includes(p)) found.push(`${p} ON ${m[2]}`);
  }
  return found;
}

async function warnIfWritable(db: PreflightDb, log: Logger): Promise<void> {
  let grants: string[];
  try {
    grants = await db.grants();
  } catch (err) {
    log.debug({ err }, 'SHOW GRANTS failed; privilege check skipped');
    return;
  }
  const writable = writePrivileges(grants);
  if (writable.length > 0) {
    log.warn(
      { code: 'UCW_WARN_SOURCE_WRITABLE', privileges: writable },
      'the bridge user could write to the source; it never does, but least privilege says it should not be able to: use a user with only REPLICATION SLAVE, BINLOG MONITOR/REPLICATION CLIENT and SELECT (README "Grants")',
    );
  }
}
