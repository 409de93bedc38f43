// Maps a binlog stream failure (zongji/mysql2 error, or the handler's) to a coded BridgeError.
// Invariant: only a checkpoint whose binlog is really gone advises --reset-to-now; everything is
// classified by the server's error number, except inside 1236 (see binlogReadError).

import { BridgeError } from '../errors.js';
import { CACHING_SHA2_HINT, ER, errno } from './source-db.js';

export function classifyStreamError(err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  const n = errno(err);
  const message = err instanceof Error ? err.message : String(err);
  const drifted = n === undefined ? ZONGJI_TABLE_DRIFT.exec(message) : null;
  if (drifted) return tableDrift(`${drifted[1]}.${drifted[2]}`, message, err);
  if (n === ER.MASTER_FATAL_READING_BINLOG) return binlogReadError(message, err);
  if (n === ER.SLAVE_SAME_ID) return serverIdClash(message, err);
  if (n === ER.ACCESS_DENIED) {
    return new BridgeError('UCW_ERR_SOURCE_AUTH', `the source server refused the credentials: ${message}`, {
      hint: `Check the user and password in --mysql-url. ${CACHING_SHA2_HINT}`,
      retryable: true,
      cause: err,
    });
  }
  if (n === ER.SPECIFIC_ACCESS_DENIED) {
    return new BridgeError('UCW_ERR_SOURCE_GRANTS', `the bridge user may not read the binlog: ${message}`, {
      hint: 'GRANT REPLICATION SLAVE ON *.* TO the bridge user (see README "Grants").',
      retryable: true,
      cause: err,
    });
  }
  return streamFailed(message, err);
}

/**
 * zongji's error when a table's rows were written with more columns than INFORMATION_SCHEMA shows now
 * (a column dropped after them, binlog_row_metadata not FULL). zongji gives it no code: its text is
 * the only distinction, read here once; the result is a typed code with the table in its details.
 */
const ZONGJI_TABLE_DRIFT = /^Table ([^.\s]+)\.(\S+) schema changed between binlog event and metadata fetch/;

function tableDrift(table: string, message: string, err: unknown): BridgeError {
  return new BridgeError(
    'UCW_ERR_RULES_SCHEMA_DRIFT',
    `rows of ${table} in the binlog cannot be decoded with its current columns: ${message}`,
    {
      hint:
        `A column of ${table} was dropped after rows the bridge had not read yet, and with ` +
        `binlog_row_metadata other than FULL the binlog does not name its columns. Fix the ` +
        `rules for the new ${table}, SET GLOBAL binlog_row_metadata = FULL, and restart.`,
      retryable: true,
      details: { table },
      cause: err,
    },
  );
}

/** Server wording of a checkpoint the binlog no longer has (MySQL and MariaDB, all recorded). */
const BINLOG_GONE_TEXT = [
  /could not find first log file name in binary log index file/i,
  /purged (required )?binary logs/i,
  /start replication from (impossible position|position > file size)/i,
];
/** MySQL's "A slave/replica with the same server_uuid/server_id as this slave/replica has connected". */
const SERVER_ID_CLASH_TEXT = /same server_uuid\/server_id/i;

/**
 * Error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG) is the server's one number for every reason it
 * stops a dump: a purged or missing file, an impossible position, another replica with our server id
 * (MySQL), an oversized event... It gives no other distinction, so this is the one place where the
 * message text is read; the result is still a typed code. An unknown reason stays retryable (a
 * deterministic one is stopped by the supervisor's stuck check, with its position).
 */
function binlogReadError(message: string, err: unknown): BridgeError {
  if (SERVER_ID_CLASH_TEXT.test(message)) return serverIdClash(message, err);
  if (BINLOG_GONE_TEXT.some((re) => re.test(message))) {
    return new BridgeError(
      'UCW_ERR_SOURCE_BINLOG_GONE',
      `the server cannot send the binlog from the checkpoint: ${message}`,
      {
        hint:
          'The binlog file was purged (or the server was replaced) while the bridge was behind; the ' +
          'events in between are no longer on the server. Start once with --reset-to-now to continue from ' +
          'the current end (the skipped amount is logged), and keep binlogs longer than any outage.',
        cause: err,
      },
    );
  }
  return streamFailed(message, err);
}

function serverIdClash(message: string, err: unknown): BridgeError {
  return new BridgeError(
    'UCW_ERR_SOURCE_SERVER_ID_CLASH',
    `another replica connected with this bridge's server id, and the server dropped this stream: ${message}`,
    {
      hint:
        'Every replica and bridge of a server needs its own server id: give this bridge a ' +
        '--server-id no other server, replica or bridge uses (or leave it unset: each state ' +
        'directory then draws its own). Nothing was skipped; restart once the clash is resolved.',
      cause: err,
    },
  );
}

function streamFailed(message: string, err: unknown): BridgeError {
  return new BridgeError('UCW_ERR_SOURCE_STREAM', `binlog stream failed: ${message}`, {
    hint: 'The bridge reconnects by itself from its last checkpoint.',
    retryable: true,
    cause: err,
  });
}

/**
 * Client-side codes of a connection that went away (mysql2's and Node's sockets). A list, not "any
 * string code": better-sqlite3's errors (SQLITE_FULL, ...) have that shape too, and a store failing
 * again and again at one position must count as stuck.
 */
const CONNECTION_LOSS_CODES: ReadonlySet<string> = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The connection went away (network, server shutdown, KILL): not a fact about a position. */
export function isConnectionLoss(err: BridgeError): boolean {
  if (err.code !== 'UCW_ERR_SOURCE_STREAM') return false;
  const cause = err.cause as { code?: unknown } | undefined;
  const n = errno(cause);
  if (n === ER.SERVER_SHUTDOWN || n === ER.CONNECTION_KILLED) return true;
  return n === undefined && typeof cause?.code === 'string' && CONNECTION_LOSS_CODES.has(cause.code);
}
