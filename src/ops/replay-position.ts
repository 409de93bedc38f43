// Where a replay starts and stops, as the operator writes it (`--from` / `--to`): a binlog coordinate
// `file:pos`, a MariaDB GTID `domain-server-seq`, or an ISO time. Pure: parsing, ordering of binlog
// coordinates, and the choices made from what the server lists (which file holds a GTID or a time).
// The server is asked elsewhere (replay-source.ts).

import type { BinlogPosition } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { parseSourceDatetime } from '../rules/time.js';

export interface Gtid {
  readonly domain: number;
  readonly server: number;
  readonly seq: number;
}

export type ReplayPoint =
  | { readonly kind: 'position'; readonly position: BinlogPosition }
  | { readonly kind: 'gtid'; readonly gtid: Gtid }
  | { readonly kind: 'time'; readonly ms: number };

const GTID_RE = /^(\d+)-(\d+)-(\d+)$/;
const POSITION_RE = /^([^\s:]+):(\d+)$/;
/** A date with a time (a bare date would read as a GTID), optional seconds, fraction and offset. */
const TIME_RE = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

function invalid(option: string, text: string, why: string): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_INVALID', `${option} ${JSON.stringify(text)}: ${why}`, {
    hint:
      'Give a binlog coordinate (mariadb-bin.000012:4711), a MariaDB GTID (0-1-2345) or a time with ' +
      'its date (2026-11-30T15:50:00Z; without an offset it is read in --timezone). A prefix ' +
      '(pos:, gtid:, time:) forces one reading.',
  });
}

/**
 * Parses `--from` / `--to`. `timezone` is the zone of a time written without an offset. A prefix
 * (`pos:`, `gtid:`, `time:`) forces one reading; otherwise a time is recognised by its `T` or space.
 */
export function parseReplayPoint(text: string, timezone: string, option = '--from'): ReplayPoint {
  const t = text.trim();
  const prefixed = /^(pos|gtid|time):(.*)$/i.exec(t);
  const kind = prefixed ? prefixed[1]!.toLowerCase() : undefined;
  const body = prefixed ? prefixed[2]!.trim() : t;
  if (kind === 'time' || (kind === undefined && TIME_RE.test(body))) {
    const m = TIME_RE.exec(body);
    if (!m) throw invalid(option, text, 'not a time of the form YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+hh:mm]');
    const ms = m[2] === undefined ? parseSourceDatetime(m[1]!.replace(' ', 'T'), timezone) : Date.parse(body);
    if (ms === null || !Number.isFinite(ms)) throw invalid(option, text, 'not a valid date and time');
    return { kind: 'time', ms };
  }
  if (kind === 'gtid' || (kind === undefined && GTID_RE.test(body))) {
    const m = GTID_RE.exec(body);
    if (!m) throw invalid(option, text, 'not a MariaDB GTID of the form domain-server-seq');
    return { kind: 'gtid', gtid: { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) } };
  }
  const m = POSITION_RE.exec(body);
  if (!m) throw invalid(option, text, 'neither file:pos, a GTID nor a time');
  const pos = Number(m[2]);
  if (pos < 4) throw invalid(option, text, 'a binlog position is at least 4 (the end of the file header)');
  return { kind: 'position', position: { file: m[1]!, pos } };
}

export function formatGtid(g: Gtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}

/** Binlog files sort by their numeric extension (name.000123); other names by text. */
function compareFiles(a: string, b: string): number {
  if (a === b) return 0;
  const ma = /^(.*)\.(\d+)$/.exec(a);
  const mb = /^(.*)\.(\d+)$/.exec(b);
  if (ma && mb && ma[1] === mb[1]) return Number(ma[2]) - Number(mb[2]);
  return a < b ? -1 : 1;
}

/** Negative when `a` comes before `b` in the binlog, 0 when equal, positive after. */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  return compareFiles(a.file, b.file) || a.pos - b.pos;
}

/** The earliest of the given positions (undefined ones ignored). */
export function earliest(...ps: ReadonlyArray<BinlogPosition | undefined>): BinlogPosition | undefined {
  let best: BinlogPosition | undefined;
  for (const p of ps) if (p && (!best || comparePositions(p, best) < 0)) best = p;
  return best;
}

/** MariaDB's Gtid_list event text (`[0-1-10,1-2-3]`, as SHOW BINLOG EVENTS shows it): seq by domain. */
export function parseGtidList(info: string): Map<number, number> {
  const out = new Map<number, number>();
  // A domain may be listed once per server: its highest sequence is the latest.
  for (const m of info.matchAll(/(\d+)-(\d+)-(\d+)/g))
    out.set(Number(m[1]), Math.max(out.get(Number(m[1])) ?? 0, Number(m[3])));
  return out;
}

/**
 * The binlog file that holds `gtid`, from each file's Gtid_list (the last GTID per domain written
 * before that file began), files in binlog order: the last file whose list is below the GTID's
 * sequence in its domain. Undefined when the GTID is older than the first listed file.
 */
export function fileForGtid(
  files: ReadonlyArray<{ file: string; gtidList: ReadonlyMap<number, number> }>,
  gtid: Gtid,
): string | undefined {
  let found: string | undefined;
  for (const f of files) {
    const before = f.gtidList.get(gtid.domain) ?? 0;
    if (before < gtid.seq) found = f.file;
    else break;
  }
  return found;
}
