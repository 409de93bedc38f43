// A token bucket per rate-limited URL: `ratePerSecond` tokens accrue smoothly, up to a small burst
// (a tenth of a second's worth, at least one), so a late timer can catch up a little but a backlog
// never goes out in a rush. Pure: time comes in as `nowMs`, so tests drive it with fake time.
// Taking more than is there leaves a debt (a chain of n takes n): the next token waits for it.

/** The burst the bucket holds: 100 ms of the rate, at least one token. */
export function burstFor(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}

export class TokenBucket {
  private tokens: number;
  private atMs: number;
  readonly burst: number;
  private readonly perMs: number;

  constructor(
    readonly ratePerSecond: number,
    nowMs: number,
    burst: number = burstFor(ratePerSecond),
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    this.burst = Math.max(1, burst);
    this.perMs = ratePerSecond / 1000;
    this.tokens = this.burst;
    this.atMs = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.atMs) {
      this.tokens = Math.min(this.burst, this.tokens + (nowMs - this.atMs) * this.perMs);
      this.atMs = nowMs;
    }
  }

  /** Whole tokens that can be taken now (0 while the bucket is empty or in debt). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.tokens + 1e-9));
  }

  /** Takes `n` tokens (a chain of n requests); more than available leaves a debt. */
  take(nowMs: number, n = 1): void {
    this.refill(nowMs);
    this.tokens -= n;
  }

  /** Milliseconds until one whole token is there (0 if one is there now). */
  msUntilNext(nowMs: number): number {
    this.refill(nowMs);
    const missing = 1 - this.tokens;
    return missing <= 1e-9 ? 0 : Math.ceil(missing / this.perMs);
  }
}
