// Read-only queries on the source server (the only SQL the bridge sends besides the binlog dump):
// server settings, binlog position, snapshots of mirrored tables, and remembered-value fallbacks.
// Every statement here is a SELECT or SHOW (plus each session's time_zone); the bridge never writes
// to the source.

import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition, Row } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { mysql2Options, SESSION_TIME_ZONE_SQL, type SourceConnection } from './connection.js';

/** MySQL/MariaDB error numbers the bridge classifies (by message text only inside 1236: stream-errors.ts). */
export const ER = {
  ACCESS_DENIED: 1045,
  DBACCESS_DENIED: 1044,
  SPECIFIC_ACCESS_DENIED: 1227,
  TABLEACCESS_DENIED: 1142,
  MASTER_FATAL_READING_BINLOG: 1236,
  /** MariaDB's ER_SLAVE_SAME_ID (MySQL sends 1236 instead; its 4052 is an unrelated CREATE USER error). */
  SLAVE_SAME_ID: 4052,
  SERVER_SHUTDOWN: 1053,
  CONNECTION_KILLED: 1927,
  NO_SUCH_TABLE: 1146,
  BAD_FIELD: 1054,
  UNKNOWN_SYSTEM_VARIABLE: 1193,
  PARSE_ERROR: 1064,
  NO_SUCH_FUNCTION: 1305,
} as const;

/** The server's error number; undefined for client-side failures (Node's system errors carry negative errnos). */
export function errno(err: unknown): number | undefined {
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' && n > 0 ? n : undefined;
}

function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function qualified(table: string): string {
  const [schema, name] = table.split('.') as [string, string];
  return `${ident(schema)}.${ident(name)}`;
}

/**
 * Why a correct password can still fail on MySQL 8: caching_sha2_password sends it in full (first login
 * after a restart or a password change) only over a secure connection (TLS or a Unix socket, for mysql2)
 * or RSA-encrypted with the server's public key; a server without an RSA key pair answers 1045.
 */
export const CACHING_SHA2_HINT =
  'On MySQL 8 a caching_sha2_password account needs a secure connection or the RSA key exchange: the ' +
  "bridge does not use TLS, so keep the server's RSA keys on (caching_sha2_password_auto_generate_rsa_keys" +
  '=ON, the default) or connect through ?socket=/path/to/mysqld.sock.';

/** Maps a connection-level failure to a coded error (retryable unless the credentials are wrong). */
export function connectionError(err: unknown, display: string): BridgeError {
  const code = (err as { code?: unknown } | null)?.code;
  if (errno(err) === ER.ACCESS_DENIED) {
    return new BridgeError('UCW_ERR_SOURCE_AUTH', `the source server ${display} refused the user or password`, {
      hint:
        'Check the user and password in --mysql-url; mysql2 needs ' +
        `mysql_native_password or caching_sha2_password accounts. ${CACHING_SHA2_HINT}`,
      retryable: true,
      cause: err,
    });
  }
  // mysql2's code when the login exchange itself fails: a plugin it lacks (ed25519, PARSEC, auth_socket),
  // or a caching_sha2_password public key it cannot use (auth_switch.js, client_handshake.js).
  if (code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    return new BridgeError(
      'UCW_ERR_SOURCE_AUTH',
      `the source server ${display} and mysql2 could not complete the login (${(err as Error).message})`,
      {
        hint:
          'Give the bridge user mysql_native_password or caching_sha2_password (ed25519, PARSEC and ' +
          `unix_socket are not supported). ${CACHING_SHA2_HINT}`,
        retryable: true,
        cause: err,
      },
    );
  }
  const reason = typeof code === 'string' ? code : (err as Error).message;
  return new BridgeError('UCW_ERR_SOURCE_CONNECT', `cannot reach the source server ${display} (${reason})`, {
    hint:
      'Check host and port in --mysql-url and that the server accepts ' +
      'connections from this machine; the bridge keeps retrying.',
    retryable: true,
    cause: err,
  });
}

export interface ServerSettings {
  version: string;
  isMariaDb: boolean;
  serverId: number;
  logBin: boolean;
  binlogFormat: string;
  binlogRowImage: string;
  /** Undefined when the server has no such variable (MySQL < 8.0.1, MariaDB < 10.5). */
  binlogRowMetadata: string | undefined;
  /** MySQL's server_uuid; undefined on MariaDB, which has none. */
  serverUuid: string | undefined;
  /** MySQL 8.0.20+ binlog_transaction_compression (1/0); undefined on servers without it (MariaDB). */
  binlogTransactionCompression: string | undefined;
  /** MySQL 8.0.3+ binlog_row_value_options ('' or PARTIAL_JSON); undefined on servers without it (MariaDB). */
  binlogRowValueOptions: string | undefined;
}

export class SourceDb {
  readonly pool: Pool;

  constructor(readonly conn: SourceConnection) {
    this.pool = mysql.createPool({ ...mysql2Options(conn), connectionLimit: 4, maxIdle: 2, idleTimeout: 60_000 });
    // Queued before the query the new connection was taken for; a connection whose zone could not be
    // set is destroyed, so that query fails (retryable) rather than read a TIMESTAMP in another zone.
    this.pool.pool.on('connection', (c) => {
      c.query(SESSION_TIME_ZONE_SQL, (err: unknown) => {
        if (err) c.destroy();
      });
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
    try {
      const [rows] = await this.pool.query<RowDataPacket[]>(sql, params);
      return rows;
    } catch (err) {
      if (errno(err) === undefined || errno(err) === ER.ACCESS_DENIED) throw connectionError(err, this.conn.display);
      throw err;
    }
  }

  async settings(): Promise<ServerSettings> {
    const [r] = await this.rows(
      'SELECT VERSION() AS version, @@server_id AS server_id, @@log_bin AS log_bin, ' +
        '@@binlog_format AS binlog_format, @@binlog_row_image AS binlog_row_image',
    );
    const metadata = await this.optionalVariable('binlog_row_metadata');
    const serverUuid = await this.optionalVariable('server_uuid');
    const binlogTransactionCompression = await this.optionalVariable('binlog_transaction_compression');
    const binlogRowValueOptions = await this.optionalVariable('binlog_row_value_options');
    const version = String(r?.version ?? '');
    return {
      version,
      isMariaDb: /mariadb/i.test(version),
      serverId: Number(r?.server_id),
      logBin: Number(r?.log_bin) === 1,
      binlogFormat: String(r?.binlog_format ?? '').toUpperCase(),
      binlogRowImage: String(r?.binlog_row_image ?? '').toUpperCase(),
      binlogRowMetadata: metadata?.toUpperCase(),
      serverUuid,
      binlogTransactionCompression,
      binlogRowValueOptions,
    };
  }

  private async optionalVariable(
    name: 'binlog_row_metadata' | 'server_uuid' | 'binlog_transaction_compression' | 'binlog_row_value_options',
  ): Promise<string | undefined> {
    try {
      const [r] = await this.rows(`SELECT @@${name} AS v`);
      return r?.v === null || r?.v === undefined ? undefined : String(r.v);
    } catch (err) {
      if (errno(err) === ER.UNKNOWN_SYSTEM_VARIABLE) return undefined;
      throw err;
    }
  }

  /** Current end of the binlog (needs BINLOG MONITOR / REPLICATION CLIENT). */
  async binlogEnd(): Promise<BinlogPosition> {
    let rows: RowDataPacket[];
    try {
      rows = await this.rows('SHOW MASTER STATUS');
    } catch (err) {
      // MySQL 8.4 removed SHOW MASTER STATUS in favour of SHOW BINARY LOG STATUS.
      if (errno(err) !== ER.PARSE_ERROR) throw grantsError(err);
      try {
        rows = await this.rows('SHOW BINARY LOG STATUS');
      } catch (e) {
        throw grantsError(e);
      }
    }
    const r = rows[0];
    if (!r) {
      throw new BridgeError('UCW_ERR_SOURCE_BINLOG_DISABLED', 'the source server reports no binary log position', {
        hint: 'Enable the binary log (log_bin) on the source server.',
      });
    }
    return { file: String(r.File), pos: Number(r.Position) };
  }

  /**
   * MariaDB's GTID position at a binlog coordinate (needs only REPLICATION SLAVE), a fingerprint of
   * the server's history there. Null when the coordinate is not in the binlog; undefined on servers
   * without BINLOG_GTID_POS (MySQL).
   */
  async gtidPositionAt(pos: BinlogPosition): Promise<string | null | undefined> {
    try {
      const [r] = await this.rows('SELECT BINLOG_GTID_POS(?, ?) AS g', [pos.file, pos.pos]);
      const g = r?.g as string | Buffer | null | undefined;
      return g === null || g === undefined ? null : g.toString();
    } catch (err) {
      if (errno(err) === ER.NO_SUCH_FUNCTION) return undefined;
      throw err;
    }
  }

  /** The current user's grant statements (SHOW GRANTS). */
  async grants(): Promise<string[]> {
    const rows = await this.rows('SHOW GRANTS');
    return rows.map((r) => String(Object.values(r)[0]));
  }

  /**
   * SHOW GRANTS with each role active in turn (`roles` quoted as SHOW GRANTS wrote them). The session
   * role is changed, so the connection is destroyed afterwards, never returned to the pool.
   */
  async roleGrants(roles: readonly string[]): Promise<string[]> {
    const c = await this.pool.getConnection();
    const out: string[] = [];
    try {
      for (const role of roles) {
        if (!/^`[^`]+`(@`[^`]*`)?$/.test(role)) continue;
        try {
          await c.query(`SET ROLE ${role}`);
        } catch (err) {
          // A role granted to another role, not to the user, cannot be set (1959 on MariaDB, 3530 on
          // MySQL): its grants stay unlisted, and the others are still checked.
          if (errno(err) === undefined) throw err;
          continue;
        }
        const [rows] = await c.query<RowDataPacket[]>('SHOW GRANTS');
        out.push(...rows.map((r) => String(Object.values(r)[0])));
      }
    } finally {
      c.destroy();
    }
    return out;
  }

  /** Columns of each `schema.table` the bridge user can see (absent key: no such table, or no grant). */
  async columnsOf(tables: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (tables.length === 0) return out;
    const pairs = tables.map((t) => t.split('.') as [string, string]);
    const rows = await this.rows(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
       WHERE ${pairs.map(() => '(TABLE_SCHEMA = ? AND TABLE_NAME = ?)').join(' OR ')}`,
      pairs.flat(),
    );
    for (const r of rows) {
      const key = `${String(r.s)}.${String(r.t)}`;
      const set = out.get(key) ?? new Set<string>();
      set.add(String(r.c));
      out.set(key, set);
    }
    return out;
  }

  /** Global values of the named server variables; a variable the server does not have is absent. */
  async globalVariables(names: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const rows = await this.rows(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => '?').join(', ')})`, [
      ...names,
    ]);
    for (const r of rows) out.set(String(r.Variable_name).toLowerCase(), String(r.Value ?? ''));
    return out;
  }

  /** Binlog files and sizes (needs BINLOG MONITOR / REPLICATION CLIENT). */
  async binlogFiles(): Promise<Array<{ file: string; size: number }>> {
    const rows = await this.rows('SHOW BINARY LOGS');
    return rows.map((r) => ({ file: String(r.Log_name), size: Number(r.File_size) }));
  }

  /** All rows of a mirrored table (directories and the webhooks registry), with only the named columns. */
  async snapshot(table: string, columns: readonly string[]): Promise<Row[]> {
    try {
      return await this.rows(`SELECT ${columns.map(ident).join(', ')} FROM ${qualified(table)}`);
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError('UCW_ERR_SOURCE_QUERY', `cannot read ${table}: ${(err as Error).message}`, {
        hint: `Grant SELECT on ${table} to the bridge user, or fix the table name in the rules file.`,
        cause: err,
      });
    }
  }

  /** The latest `valueColumn` of a row matching `key` (and an optional equality filter). */
  async lookupValue(q: {
    table: string;
    keyColumn: string;
    key: string;
    valueColumn: string;
    filter?: { column: string; values: unknown[] };
    orderBy?: string;
  }): Promise<unknown> {
    const where = [`${ident(q.keyColumn)} = ?`];
    const params: unknown[] = [q.key];
    if (q.filter) {
      where.push(`${ident(q.filter.column)} IN (${q.filter.values.map(() => '?').join(', ')})`);
      params.push(...q.filter.values);
    }
    const order = q.orderBy ? ` ORDER BY ${ident(q.orderBy)} DESC` : '';
    const sql =
      `SELECT ${ident(q.valueColumn)} AS v FROM ${qualified(q.table)} ` +
      `WHERE ${where.join(' AND ')}${order} LIMIT 1`;
    try {
      const rows = await this.rows(sql, params);
      return rows[0]?.v ?? null;
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError('UCW_ERR_SOURCE_QUERY', `lookup in ${q.table} failed: ${(err as Error).message}`, {
        hint: `Grant SELECT on ${q.table} to the bridge user.`,
        retryable: true,
        cause: err,
      });
    }
  }
}

function grantsError(err: unknown): unknown {
  const n = errno(err);
  if (n === ER.SPECIFIC_ACCESS_DENIED || n === ER.DBACCESS_DENIED || n === ER.TABLEACCESS_DENIED) {
    return new BridgeError(
      'UCW_ERR_SOURCE_GRANTS',
      'the bridge user lacks BINLOG MONITOR (MariaDB) / REPLICATION CLIENT (MySQL), needed to read the binlog position',
      {
        hint:
          'GRANT BINLOG MONITOR ON *.* (MariaDB) or GRANT REPLICATION CLIENT ON *.* ' +
          '(MySQL) TO the bridge user (see README "Grants"); the bridge keeps retrying.',
        retryable: true,
        cause: err,
      },
    );
  }
  return err;
}
