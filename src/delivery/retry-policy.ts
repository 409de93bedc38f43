// When to try a failed delivery again, and when to stop. Pure: time and randomness come in as inputs.
// Invariants: a retry is never scheduled in the past, never later than firstAttemptAt + maxAge, and
// our own backoff never collapses to 0 ms (equal jitter keeps at least half of the exponential step).

export interface RetryPolicy {
  /** Total attempts allowed, the first one included. */
  maxAttempts: number;
  /** No attempt is scheduled later than this after the first attempt (ms). */
  maxAgeMs: number;
  /** Backoff step before the 2nd attempt (ms); doubles per attempt. */
  baseDelayMs: number;
  /** Cap of the exponential backoff step (ms). */
  maxDelayMs: number;
  /** Cap on a receiver's Retry-After request (ms), so one receiver cannot park an event forever. */
  maxRetryAfterMs: number;
}

export type RetryDecision =
  | { readonly kind: 'retry'; readonly atMs: number }
  | { readonly kind: 'exhausted'; readonly reason: 'attempts' | 'age' };

export interface NextAttemptInput {
  readonly policy: RetryPolicy;
  /** Attempts made so far, >= 1. */
  readonly attempt: number;
  readonly firstAttemptAtMs: number;
  readonly nowMs: number;
  /** Parsed Retry-After of the last answer, if any; it replaces our backoff (capped). */
  readonly retryAfterMs?: number | undefined;
  /** Uniform in [0, 1); injectable for deterministic tests. */
  readonly random?: (() => number) | undefined;
}

/** Exponent cap: 2^52 already exceeds any sane delay, and keeps the arithmetic finite. */
const MAX_BACKOFF_EXPONENT = 52;

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * Backoff before attempt `attempt + 1`: uniform integer in [ceil(step/2), step], step = min(base*2^(attempt-1), max).
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = clamp(Math.floor(attempt) - 1, 0, MAX_BACKOFF_EXPONENT);
  const step = Math.floor(Math.min(policy.baseDelayMs * 2 ** exponent, policy.maxDelayMs));
  if (!(step > 0)) return 0;
  const fixedHalf = Math.ceil(step / 2);
  const jitterSpan = step - fixedHalf; // floor(step / 2)
  // Clamp a misbehaving random() so the result stays within [fixedHalf, step].
  const r = clamp(random(), 0, 1 - Number.EPSILON);
  return fixedHalf + Math.floor(r * (jitterSpan + 1));
}

export function nextAttemptAt(input: NextAttemptInput): RetryDecision {
  const { policy, attempt, firstAttemptAtMs, nowMs, retryAfterMs } = input;
  if (attempt >= policy.maxAttempts) return { kind: 'exhausted', reason: 'attempts' };

  const delayMs =
    retryAfterMs !== undefined && !Number.isNaN(retryAfterMs)
      ? clamp(retryAfterMs, 0, Math.max(0, policy.maxRetryAfterMs))
      : backoffDelayMs(policy, attempt, input.random);
  const atMs = nowMs + delayMs;
  if (atMs > firstAttemptAtMs + policy.maxAgeMs) return { kind: 'exhausted', reason: 'age' };
  return { kind: 'retry', atMs };
}

// ---- Retry-After (RFC 9110 section 10.2.3): delay-seconds / HTTP-date ----

const DELAY_SECONDS_RE = /^\d+$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// The three HTTP-date forms of RFC 9110 section 5.6.7; anything else is garbage. Date.parse is not used
// because it accepts far too much (e.g. "2" parses as the year 2001).
const IMF_FIXDATE_RE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE_RE =
  // eslint-disable-next-line max-len -- one regular expression reads better whole than pieced together
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE_RE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) ( \d|\d{2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** A two-digit RFC 850 year more than 50 years ahead is taken as the previous century (RFC 9110). */
const RFC850_FUTURE_WINDOW_YEARS = 50;

function utcMs(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  // Reject impossible days (Feb 30): Date.UTC would silently roll them into the next month.
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return undefined;
  // A leap second (":60") rolls over into the next second, which is close enough for a delay.
  return Date.UTC(year, month, day, hour, minute, second);
}

function parseHttpDate(text: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE_RE.exec(text);
  if (m) return utcMs(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE_RE.exec(text);
  if (m) {
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year + 100 <= nowYear + RFC850_FUTURE_WINDOW_YEARS) year += 100;
    if (year > nowYear + RFC850_FUTURE_WINDOW_YEARS) year -= 100;
    return utcMs(year, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE_RE.exec(text);
  if (m) return utcMs(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/** Milliseconds to wait (>= 0) as asked by a Retry-After value; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (DELAY_SECONDS_RE.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(text, nowMs);
  // A date in the past means "now".
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}
