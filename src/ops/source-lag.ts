// How far a checkpoint is behind the source server and how long the server keeps the binlog it still
// needs: pure arithmetic over what the server reports (SHOW BINARY LOGS, its head, its expiry
// settings), so every figure is unit-tested exactly. The queries are in source-lag-query.ts.
//
// Lag: bytes = the rest of the checkpoint's file + every whole file after it + the head's offset in
// its file; seconds = now - the checkpoint's commit time when behind, 0 when at the head.
// Retention headroom (the smaller of the limits that apply, never below 0):
// - time (binlog_expire_logs_seconds, or expire_logs_days x 86,400): a file is purged once its last
//   write is older than the expiry. The checkpoint's file was last written at or after the
//   checkpoint's commit time, so `commit time + expiry - now` is a lower bound; while the checkpoint
//   is in the head's file (still written, never purged) it is the whole expiry.
// - size (max_binlog_total_size / binlog_space_limit, MariaDB 11.4+): the oldest files are purged
//   while the total passes the cap, so the checkpoint's file goes once the files from it to the head
//   pass it: `(cap - bytes from the checkpoint's file to the head) / write rate`.

import type { BinlogPosition } from '../domain/row-change.js';

export interface BinlogFile {
  readonly file: string;
  readonly size: number;
}

export interface RetentionSettings {
  /** Time-based expiry in seconds; undefined or 0: none. */
  readonly expireSeconds?: number | undefined;
  /** Cap on the binlog's total size in bytes; undefined or 0: none. */
  readonly totalSizeCapBytes?: number | undefined;
}

export interface LagInput {
  readonly checkpoint: BinlogPosition;
  /** The checkpoint's commit time (epoch ms), when stored. */
  readonly checkpointCommitMs?: number | undefined;
  readonly head: BinlogPosition;
  /** SHOW BINARY LOGS, oldest first. */
  readonly files: readonly BinlogFile[];
  readonly retention: RetentionSettings;
  /** Bytes written to the binlog per second lately (needed for a size cap only). */
  readonly writeRateBytesPerSecond?: number | undefined;
  readonly nowMs: number;
}

export interface LagFigures {
  /** Undefined when the checkpoint's file is no longer listed (purged). */
  readonly lagBytes: number | undefined;
  readonly lagSeconds: number | undefined;
  /** Undefined when no limit applies (no expiry, no cap) or one cannot be estimated. */
  readonly retentionHeadroomSeconds: number | undefined;
  /** True when the checkpoint's file is not in SHOW BINARY LOGS any more: the bridge cannot resume. */
  readonly checkpointPurged: boolean;
}

/** Binlog bytes from `a` to `b`; undefined when `a`'s or `b`'s file is not listed. */
export function bytesBetween(a: BinlogPosition, b: BinlogPosition, files: readonly BinlogFile[]): number | undefined {
  if (a.file === b.file) return Math.max(0, b.pos - a.pos);
  const i = files.findIndex((f) => f.file === a.file);
  const j = files.findIndex((f) => f.file === b.file);
  if (i < 0 || j < 0 || j < i) return undefined;
  let total = Math.max(0, files[i]!.size - a.pos);
  for (let k = i + 1; k < j; k++) total += files[k]!.size;
  return total + b.pos;
}

/** Bytes per second written between two samples of the head; undefined when it cannot be told. */
export function writeRate(
  earlier: { head: BinlogPosition; atMs: number },
  later: { head: BinlogPosition; atMs: number },
  files: readonly BinlogFile[],
): number | undefined {
  const seconds = (later.atMs - earlier.atMs) / 1000;
  if (seconds <= 0) return undefined;
  const bytes = bytesBetween(earlier.head, later.head, files);
  return bytes === undefined ? undefined : bytes / seconds;
}

function timeHeadroom(input: LagInput, expireSeconds: number): number | undefined {
  if (input.checkpoint.file === input.head.file) return expireSeconds;
  if (input.checkpointCommitMs === undefined) return undefined;
  return (input.checkpointCommitMs + expireSeconds * 1000 - input.nowMs) / 1000;
}

function sizeHeadroom(input: LagInput, capBytes: number): number | undefined {
  const i = input.files.findIndex((f) => f.file === input.checkpoint.file);
  if (i < 0) return 0;
  let kept = 0;
  for (let k = i; k < input.files.length; k++) kept += input.files[k]!.size;
  const room = capBytes - kept;
  if (room <= 0) return 0;
  const rate = input.writeRateBytesPerSecond;
  // No writes lately: nothing pushes the file out (no estimate rather than infinity).
  if (rate === undefined || rate <= 0) return undefined;
  return room / rate;
}

export function sourceLag(input: LagInput): LagFigures {
  const { checkpoint, head, files, retention } = input;
  const listed = checkpoint.file === head.file || files.some((f) => f.file === checkpoint.file);
  const lagBytes = listed ? bytesBetween(checkpoint, head, files) : undefined;
  const caughtUp = lagBytes === 0;
  const lagSeconds = caughtUp
    ? 0
    : input.checkpointCommitMs === undefined
      ? undefined
      : Math.max(0, (input.nowMs - input.checkpointCommitMs) / 1000);
  if (!listed) return { lagBytes, lagSeconds, retentionHeadroomSeconds: 0, checkpointPurged: true };
  // A limit that cannot be estimated (no commit time, no writes lately) is left out.
  const limits: number[] = [];
  for (const [value, of] of [
    [retention.expireSeconds, timeHeadroom],
    [retention.totalSizeCapBytes, sizeHeadroom],
  ] as const) {
    if (value === undefined || value <= 0) continue;
    const h = of(input, value);
    if (h !== undefined) limits.push(h);
  }
  const retentionHeadroomSeconds = limits.length === 0 ? undefined : Math.max(0, Math.min(...limits));
  return { lagBytes, lagSeconds, retentionHeadroomSeconds, checkpointPurged: false };
}
