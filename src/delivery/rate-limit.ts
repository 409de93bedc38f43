// The pace of a rate-limited URL: each request gets a not-before time, 1/rate apart, never earlier
// than now (virtual scheduling, as GCRA: no burst after idling). The scheduler hands requests to the
// worker up to `horizonMs` ahead of their time and the worker starts each at its time, so a scheduler
// thread busy for a while (a catch-up reads and commits in large steps) loses no slot: the worker's
// own timers keep the pace. Pure: time comes in as `nowMs`, so tests drive it with fake time.

/** How far ahead of its time a request is handed to the worker: covers the scheduler thread's stalls. */
export const DEFAULT_HORIZON_MS = 1_000;

export class Pacer {
  readonly intervalMs: number;
  /** The earliest start of the next request. */
  private nextMs = -Infinity;
  /** Time requests were held back by the limit (ms), counted up to the last one's start. */
  private heldUpToLast = 0;

  constructor(
    readonly ratePerSecond: number,
    readonly horizonMs: number = DEFAULT_HORIZON_MS,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** How many requests can be scheduled now: those that start within the horizon. */
  room(nowMs: number): number {
    const span = nowMs + this.horizonMs - Math.max(nowMs, this.nextMs);
    return span < 0 ? 0 : Math.floor(span / this.intervalMs + 1e-9) + 1;
  }

  /** Schedules one request: the time it may start (now, or 1/rate after the one before). */
  take(nowMs: number): number {
    const at = Math.max(nowMs, this.nextMs);
    // Starts only grow: the new wait is what lies past the previous start (the union of the waits).
    if (at > nowMs) this.heldUpToLast += at - Math.max(nowMs, this.nextMs - this.intervalMs);
    this.nextMs = at + this.intervalMs;
    return at;
  }

  /**
   * Wall-clock time (ms) during which some request was held back by the limit, up to `nowMs`: it grows
   * as fast as the clock while a backlog waits for the rate, and not at all while the URL is under it.
   */
  heldMs(nowMs: number): number {
    const lastStart = this.nextMs - this.intervalMs;
    return this.heldUpToLast - Math.max(0, lastStart - nowMs);
  }

  /** Milliseconds until room() is at least 1. */
  msUntilRoom(nowMs: number): number {
    return Math.max(0, Math.ceil(Math.max(nowMs, this.nextMs) - (nowMs + this.horizonMs)));
  }
}

/**
 * The worker's guard on a rate-limited URL's starts: at most k = floor(rate) (at least 1) in any
 * k/rate seconds (1 s for a whole rate). The pacer's times hold the long-run rate; when the worker
 * was late and catches up, this keeps the catch-up from bursting past the limit. Pure.
 */
export class StartWindow {
  private readonly starts: number[];
  /** The oldest of the last k starts (the next one to be replaced). */
  private oldest = 0;
  readonly spanMs: number;

  constructor(ratePerSecond: number) {
    const k = Math.max(1, Math.floor(ratePerSecond));
    this.starts = new Array<number>(k).fill(-Infinity);
    this.spanMs = (k * 1000) / ratePerSecond;
  }

  /** The earliest time the next start keeps at most k starts within the span. */
  earliest(): number {
    return this.starts[this.oldest]! + this.spanMs;
  }

  record(atMs: number): void {
    this.starts[this.oldest] = atMs;
    this.oldest = (this.oldest + 1) % this.starts.length;
  }
}
