// Reconnect delays of the source supervisor. Invariant: the delay doubles per consecutive failure from
// minMs up to maxMs, and the count starts over once a stream has stayed open for healthyAfterMs, so an
// outage long after the last one waits minMs again. Pure: time comes from the injected clock.

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** A stream open at least this long before it failed counts as healthy: the failure count restarts. */
  readonly healthyAfterMs: number;
  readonly now: () => number;
}

export class ReconnectBackoff {
  private failures = 0;
  private upSinceMs: number | undefined;

  constructor(private readonly opts: BackoffOptions) {}

  /** The stream is open and reading. */
  up(): void {
    this.upSinceMs = this.opts.now();
  }

  /** An attempt failed: how long to wait before the next one, and how many failed in a row. */
  failed(): { delayMs: number; failures: number } {
    const o = this.opts;
    if (this.upSinceMs !== undefined && o.now() - this.upSinceMs >= o.healthyAfterMs) this.failures = 0;
    this.upSinceMs = undefined;
    this.failures++;
    const delayMs = Math.min(o.maxMs, o.minMs * 2 ** Math.min(this.failures - 1, 20));
    return { delayMs, failures: this.failures };
  }
}
