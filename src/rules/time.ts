// Time conversion between source DATETIME strings (wall-clock in a configured zone, usually UTC) and
// the payload format `yyyy-MM-dd HH:mm:ss` in the output zone. Uses Intl only; zero dates and
// unparsable values become null rather than a wrong instant.

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

/** The number in `s` from `from` for `n` characters, or -1 when one of them is not a digit. */
function digitsAt(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** True when the string must be trimmed: it starts or ends with whitespace (or anything not ASCII). */
const needsTrim = (s: string): boolean => {
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(s.length - 1);
  return a <= 32 || a >= 127 || b <= 32 || b >= 127;
};

/**
 * Epoch milliseconds of a source DATETIME value read as wall-clock time in `zone`.
 * Accepts `YYYY-MM-DD[( |T)HH:MM[:SS[.f to ffffff]]]` strings, Date objects and epoch numbers.
 * Returns null for NULL, zero dates (`0000-00-00 ...`) and anything unparsable.
 */
export function parseSourceDatetime(value: unknown, zone: string): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || value.length === 0) return null;
  // Read character by character: a regular expression with its match array and substrings was a
  // tenth of what the catch-up path allocated.
  const s = needsTrim(value) ? value.trim() : value;
  const len = s.length;
  if (len !== 10 && len !== 16 && len !== 19 && !(len >= 21 && len <= 26)) return null;
  const y = digitsAt(s, 0, 4);
  const mo = digitsAt(s, 5, 2);
  const d = digitsAt(s, 8, 2);
  if (y < 0 || mo < 0 || d < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return null;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let frac = 0;
  if (len > 10) {
    const sep = s.charCodeAt(10);
    if (sep !== 32 && sep !== 84) return null; // ' ' or 'T'
    h = digitsAt(s, 11, 2);
    mi = digitsAt(s, 14, 2);
    if (h < 0 || mi < 0 || s.charCodeAt(13) !== 58) return null;
    if (len > 16) {
      sec = digitsAt(s, 17, 2);
      if (sec < 0 || s.charCodeAt(16) !== 58) return null;
      if (len > 19) {
        const fracDigits = len - 20;
        const f = digitsAt(s, 20, fracDigits);
        if (f < 0 || s.charCodeAt(19) !== 46) return null;
        // Milliseconds: the first three digits of the fraction, padded (".5" is 500 ms).
        frac = fracDigits >= 3 ? Math.floor(f / 10 ** (fracDigits - 3)) : f * 10 ** (3 - fracDigits);
      }
    }
  }
  if (y === 0 || mo === 0 || d === 0) return null;
  // Date.UTC would roll 10:60 over to 11:00; an out-of-range clock field is not a DATETIME.
  if (h > 23 || mi > 59 || sec > 59 || mo > 12 || d > daysInMonth(y, mo)) return null;
  const wallAsUtc = Date.UTC(y, mo - 1, d, h, mi, sec, frac);
  if (zone === 'UTC') return wallAsUtc;
  // The offsets a day either side: the same unless a DST change is near (two calls, as before).
  const before = offsetMs(wallAsUtc - DAY_MS, zone);
  const after = offsetMs(wallAsUtc + DAY_MS, zone);
  if (before === after) return wallAsUtc - before;
  // Near a change, one documented answer (docs/rules.md): a repeated wall time is its first
  // occurrence; a skipped one is read in the offset before the gap, which moves it forward by the gap.
  const early = wallAsUtc - before;
  const late = wallAsUtc - after;
  const earlyIsReal = offsetMs(early, zone) === before;
  const lateIsReal = offsetMs(late, zone) === after;
  if (earlyIsReal && lateIsReal) return Math.min(early, late);
  if (lateIsReal) return late;
  return early;
}

const DAY_MS = 86_400_000;

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The last formatted second (events come in bursts within one second): zone, second, text. */
let lastFormatted: { zone: string; second: number; text: string } = { zone: '', second: NaN, text: '' };

/** `yyyy-MM-dd HH:mm:ss` (24-hour clock) of an instant in `zone`. */
export function formatPayloadDate(ms: number, zone: string): string {
  const second = Math.floor(ms / 1000);
  const last = lastFormatted;
  if (last.second === second && last.zone === zone) return last.text;
  let text: string;
  if (zone === 'UTC') {
    const d = new Date(ms);
    text = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(
      d.getUTCMinutes(),
    )}:${pad2(d.getUTCSeconds())}`;
  } else {
    const w = wallClockIn(ms, zone);
    text = `${w.y}-${pad2(w.mo)}-${pad2(w.d)} ${pad2(w.h)}:${pad2(w.mi)}:${pad2(w.s)}`;
  }
  lastFormatted = { zone, second, text };
  return text;
}
