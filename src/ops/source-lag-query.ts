// The server side of `status`: the binlog's head, its files and the settings that purge them, read
// with SHOW/SELECT only (BINLOG MONITOR / REPLICATION CLIENT, which the bridge user has), and the
// figures of source-lag.ts computed from them against a checkpoint.

import type { RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition } from '../domain/row-change.js';
import type { StoredCheckpoint } from '../outbox/records.js';
import { ER, errno, type SourceDb } from '../source/source-db.js';
import type { SourceStatus } from './status-types.js';
import { sourceLag, writeRate, type BinlogFile, type RetentionSettings } from './source-lag.js';

export interface ServerBinlog {
  readonly head: BinlogPosition;
  readonly files: readonly BinlogFile[];
  readonly retention: RetentionSettings;
  readonly atMs: number;
}

type Reader = Pick<SourceDb, 'binlogEnd' | 'binlogFiles' | 'pool'>;

/** A numeric server variable; undefined where the server has no such variable. */
async function numericVariable(db: Reader, name: string): Promise<number | undefined> {
  try {
    const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT @@${name} AS v`);
    const v = rows[0]?.v as unknown;
    return v === null || v === undefined ? undefined : Number(v);
  } catch (err) {
    if (errno(err) === ER.UNKNOWN_SYSTEM_VARIABLE) return undefined;
    throw err;
  }
}

/** Expiry: binlog_expire_logs_seconds (MySQL 8, MariaDB 10.6+) wins over expire_logs_days (older, days). */
export async function readRetention(db: Reader): Promise<RetentionSettings> {
  const seconds = await numericVariable(db, 'binlog_expire_logs_seconds');
  const days = seconds ? undefined : await numericVariable(db, 'expire_logs_days');
  // MariaDB 11.4+: max_binlog_total_size (binlog_space_limit is its alias).
  const cap = await numericVariable(db, 'max_binlog_total_size');
  return {
    expireSeconds: seconds ? seconds : days ? Math.round(days * 86_400) : undefined,
    totalSizeCapBytes: cap ? cap : undefined,
  };
}

export async function readServerBinlog(db: Reader, nowMs: () => number = Date.now): Promise<ServerBinlog> {
  const head = await db.binlogEnd();
  const files = await db.binlogFiles();
  const retention = await readRetention(db);
  return { head, files, retention, atMs: nowMs() };
}

/** Bytes per second between two reads of the server (undefined with no earlier one). */
export function rateBetween(earlier: ServerBinlog | undefined, later: ServerBinlog): number | undefined {
  if (!earlier) return undefined;
  return writeRate({ head: earlier.head, atMs: earlier.atMs }, { head: later.head, atMs: later.atMs }, later.files);
}

/**
 * The head as sampled, or the checkpoint when it is past it: a running bridge reads the server every
 * ~30 s while its checkpoint moves on, and the head is never behind what was read from it.
 */
function atLeast(head: BinlogPosition, checkpoint: BinlogPosition): BinlogPosition {
  // Binlog file names share their base name and end in a zero-padded sequence number.
  const ahead = checkpoint.file === head.file ? checkpoint.pos > head.pos : checkpoint.file > head.file;
  return ahead ? { file: checkpoint.file, pos: checkpoint.pos } : head;
}

/** The source fields of a snapshot that come from the server, for `checkpoint`. */
export function serverFields(
  server: ServerBinlog,
  checkpoint: StoredCheckpoint | undefined,
  rate: number | undefined,
  nowMs: number,
): Partial<SourceStatus> {
  const shown = checkpoint ? atLeast(server.head, checkpoint) : server.head;
  const out: Partial<SourceStatus> = {
    serverHead: { file: shown.file, position: shown.pos },
    sampledAt: new Date(server.atMs).toISOString(),
    retention: {
      ...(server.retention.expireSeconds ? { expireSeconds: server.retention.expireSeconds } : {}),
      ...(server.retention.totalSizeCapBytes ? { totalSizeCapBytes: server.retention.totalSizeCapBytes } : {}),
      ...(rate !== undefined ? { writeRateBytesPerSecond: Math.round(rate) } : {}),
    },
  };
  if (!checkpoint) return out;
  const head = atLeast(server.head, checkpoint);
  const lag = sourceLag({
    checkpoint,
    checkpointCommitMs: checkpoint.commitTimeMs,
    head,
    files: server.files,
    retention: server.retention,
    writeRateBytesPerSecond: rate,
    nowMs,
  });
  return {
    ...out,
    ...(lag.lagBytes !== undefined ? { lagBytes: lag.lagBytes } : {}),
    ...(lag.lagSeconds !== undefined ? { lagSeconds: Math.round(lag.lagSeconds) } : {}),
    ...(lag.retentionHeadroomSeconds !== undefined
      ? { retentionHeadroomSeconds: Math.floor(lag.retentionHeadroomSeconds) }
      : {}),
    ...(lag.checkpointPurged ? { checkpointPurged: true } : {}),
  };
}
