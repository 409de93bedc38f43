// Time conversion between source DATETIME strings (wall-clock in a configured zone, usually UTC) and
// the payload format `yyyy-MM-dd HH:mm:ss` in the output zone. Uses Intl only; zero dates and
// unparsable values become null rather than a wrong instant.

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let fmt = formatters.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, fmt);
  }
  return fmt;
}

/** True when `zone` is an IANA zone name (or UTC) that this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

interface WallClock {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

function wallClockIn(ms: number, zone: string): WallClock {
  const parts = formatterFor(zone).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value);
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}

function offsetMs(ms: number, zone: string): number {
  const w = wallClockIn(ms, zone);
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * Epoch milliseconds of a source DATETIME value read as wall-clock time in `zone`.
 * Accepts `YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]` strings, Date objects and epoch numbers.
 * Returns null for NULL, zero dates (`0000-00-00 ...`) and anything unparsable.
 */
export function parseSourceDatetime(value: unknown, zone: string): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = DATETIME_RE.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (y === 0 || mo === 0 || d === 0) return null;
  // Date.UTC would roll 10:60 over to 11:00; an out-of-range clock field is not a DATETIME.
  if (h > 23 || mi > 59 || s > 59) return null;
  const frac = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const wallAsUtc = Date.UTC(y, mo - 1, d, h, mi, s, frac);
  const check = new Date(wallAsUtc);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  if (zone === 'UTC') return wallAsUtc;
  // Two passes settle the offset around DST transitions.
  let guess = wallAsUtc - offsetMs(wallAsUtc, zone);
  guess = wallAsUtc - offsetMs(guess, zone);
  return guess;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `yyyy-MM-dd HH:mm:ss` (24-hour clock) of an instant in `zone`. */
export function formatPayloadDate(ms: number, zone: string): string {
  if (zone === 'UTC') {
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(
      d.getUTCMinutes(),
    )}:${pad2(d.getUTCSeconds())}`;
  }
  const w = wallClockIn(ms, zone);
  return `${w.y}-${pad2(w.mo)}-${pad2(w.d)} ${pad2(w.h)}:${pad2(w.mi)}:${pad2(w.s)}`;
}
