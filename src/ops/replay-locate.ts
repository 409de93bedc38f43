// Turns `--from` / `--to` into binlog coordinates by asking the server, read-only: a GTID by the
// Gtid_list each MariaDB binlog file begins with and SHOW BINLOG EVENTS of the file that holds it; a
// time by the start time of each file (newest first, so a recent time costs few probes).

import type { RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import type { SourceDb } from '../source/source-db.js';
import { fileForGtid, formatGtid, parseGtidList, type Gtid } from './replay-position.js';

const PAGE = 5_000;

async function binlogEvents(db: SourceDb, file: string, offset: number, count: number): Promise<RowDataPacket[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN ? LIMIT ${offset}, ${count}`, [file]);
  return rows;
}

function notInBinlog(what: string, why: string): BridgeError {
  return new BridgeError('UCW_ERR_REPLAY_NOT_IN_BINLOG', `${what} is not in the server's binlog: ${why}`, {
    hint:
      'SHOW BINARY LOGS lists what the server still keeps; start the replay at a GTID, position or time ' +
      'inside it (what was purged cannot be replayed).',
    details: { what },
  });
}

/** The position of the GTID event that starts `gtid`'s transaction (MariaDB). */
export async function positionOfGtid(db: SourceDb, gtid: Gtid): Promise<BinlogPosition> {
  const text = formatGtid(gtid);
  const files = await db.binlogFiles();
  const lists: Array<{ file: string; gtidList: Map<number, number> }> = [];
  for (const { file } of files) {
    const head = await binlogEvents(db, file, 0, 4);
    const list = head.find((r) => String(r.Event_type) === 'Gtid_list');
    if (!list) {
      throw new BridgeError('UCW_ERR_CONFIG_INVALID', `--from/--to ${text}: the server writes no MariaDB GTID list`, {
        hint: 'A GTID is accepted on MariaDB only; give a binlog coordinate (file:pos) or a time instead.',
      });
    }
    lists.push({ file, gtidList: parseGtidList(String(list.Info)) });
  }
  const file = fileForGtid(lists, gtid);
  if (!file) throw notInBinlog(`GTID ${text}`, 'it is older than the oldest binlog file');
  const wanted = new RegExp(`(^|\\s)GTID ${text}(\\s|$)`);
  for (let offset = 0; ; offset += PAGE) {
    const rows = await binlogEvents(db, file, offset, PAGE);
    const hit = rows.find((r) => String(r.Event_type) === 'Gtid' && wanted.test(String(r.Info)));
    if (hit) return { file, pos: Number(hit.Pos) };
    if (rows.length < PAGE) throw notInBinlog(`GTID ${text}`, `not found in ${file}, where it would be`);
  }
}

/**
 * The start of the newest binlog file begun at or before `ms` (the replay then skips what precedes
 * `ms`), and whether the time is older than every file the server keeps.
 */
export async function positionForTime(
  db: SourceDb,
  ms: number,
  startedAt: (file: string) => Promise<number>,
): Promise<{ position: BinlogPosition; beforeOldest: boolean }> {
  const files = await db.binlogFiles();
  if (files.length === 0) throw notInBinlog('the binlog', 'the server lists no binlog file');
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i]!.file;
    if ((await startedAt(file)) <= ms) return { position: { file, pos: 4 }, beforeOldest: false };
  }
  return { position: { file: files[0]!.file, pos: 4 }, beforeOldest: true };
}

/** Bytes of binlog from `a` to `b` (files between counted whole), for progress. */
export function bytesBetween(
  files: ReadonlyArray<{ file: string; size: number }>,
  a: BinlogPosition,
  b: BinlogPosition,
): number {
  const i = files.findIndex((f) => f.file === a.file);
  const j = files.findIndex((f) => f.file === b.file);
  if (i < 0 || j < 0 || j < i) return 0;
  if (i === j) return Math.max(0, b.pos - a.pos);
  let total = Math.max(0, files[i]!.size - a.pos);
  for (let k = i + 1; k < j; k++) total += files[k]!.size;
  return total + b.pos;
}
