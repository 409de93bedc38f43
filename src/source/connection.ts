// Connection settings for the source server, parsed once from `mysql://user:pass@host:port/`.
// Both the binlog stream and the read-only query pool use these, with the same value decoding: dates
// as strings, and TIMESTAMPs (instants) always in UTC, whatever the host's TZ or the server's time_zone.

import { BridgeError } from '../errors.js';

export interface SourceConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Unix socket path when the URL has `?socket=/path`. */
  readonly socketPath: string | undefined;
  /** Host and port only: safe for logs. */
  readonly display: string;
}

const DEFAULT_MYSQL_PORT = 3306;

/** Session time_zone of the query pool: the server renders TIMESTAMPs of a SELECT in UTC, as zongji does. */
export const SESSION_TIME_ZONE_SQL = "SET time_zone = '+00:00'";

export function parseMysqlUrl(raw: string): SourceConnection {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', 'the MySQL URL is not a valid URL', {
      hint: 'Use mysql://USER:PASSWORD@HOST:PORT/ (percent-encode special characters in the password).',
    });
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `the MySQL URL must start with mysql:// (got ${u.protocol}//)`, {
      hint: 'Use mysql://USER:PASSWORD@HOST:PORT/.',
    });
  }
  if (!u.username) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', 'the MySQL URL has no user name', {
      hint: 'Use mysql://USER:PASSWORD@HOST:PORT/ with the bridge user (see README "Grants").',
    });
  }
  const port = u.port ? Number(u.port) : DEFAULT_MYSQL_PORT;
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {
    host,
    port,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    socketPath: u.searchParams.get('socket') ?? undefined,
    display: `${host}:${port}`,
  };
}

/** mysql2 connection options shared by the binlog stream and the query pool. */
export function mysql2Options(conn: SourceConnection): Record<string, unknown> {
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    ...(conn.socketPath ? { socketPath: conn.socketPath } : {}),
    dateStrings: true,
    // zongji renders binlog TIMESTAMPs with this zone (the host's local zone without it).
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4_general_ci',
    connectTimeout: 10_000,
  };
}
