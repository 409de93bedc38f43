// The shape of a bridge's status: what `status --json`, GET /api/status and the status page show.
// One type for all three, so the page and the command cannot disagree. Times are ISO 8601 UTC; URLs
// are shown in their safe form (src/safe-url.ts: no credentials, no query string).

export type UrlState = 'ok' | 'failing' | 'paused';

export interface UrlStatus {
  /** safeUrl() of the registered URL. */
  readonly url: string;
  readonly pending: number;
  /** Being sent right now (only a running bridge knows; 0 from the store alone). */
  readonly inFlight: number;
  /** Pending deliveries that failed at least once and wait for their next attempt. */
  readonly retrying: number;
  readonly dead: number;
  readonly cancelled: number;
  readonly state: UrlState;
  readonly pausedUntil?: string;
  readonly lastSuccessAt?: string;
  readonly lastError?: { readonly at: string; readonly message: string; readonly status?: number };
  readonly oldestPendingAgeSeconds?: number;
  /** Time deliveries of this URL spent waiting for its rate limit (per-receiver settings). */
  readonly rateLimitedWaitSeconds?: number;
}

export interface SourceStatus {
  /** Undefined when the status was read from the store alone (no running bridge asked). */
  readonly connected?: boolean;
  readonly lastError?: string;
  readonly checkpoint?: {
    readonly file: string;
    readonly position: number;
    readonly gtid?: string;
    readonly commitTime?: string;
  };
  /** Only with a server to ask (a running bridge, or `status --mysql-url`). */
  readonly serverHead?: { readonly file: string; readonly position: number };
  /** When the server figures (head, lag, headroom) were read. */
  readonly sampledAt?: string;
  readonly lagBytes?: number;
  /** now - the checkpoint's commit time while behind; 0 at the server's head. */
  readonly lagSeconds?: number;
  /**
   * How long until the oldest binlog the checkpoint needs is purged (src/ops/source-lag.ts has the
   * formula); absent when the server purges nothing automatically or it cannot be estimated.
   */
  readonly retentionHeadroomSeconds?: number;
  /** The checkpoint's binlog file is no longer on the server: the bridge cannot resume from it. */
  readonly checkpointPurged?: boolean;
  /** The server's purge settings the headroom was computed from, and the measured write rate. */
  readonly retention?: {
    readonly expireSeconds?: number;
    readonly totalSizeCapBytes?: number;
    readonly writeRateBytesPerSecond?: number;
  };
}

export interface DeadLetterSummary {
  readonly id: number;
  readonly url: string;
  readonly event: string;
  readonly eventId: string;
  readonly attempts: number;
  readonly failedAt: string;
  readonly lastError?: string;
}

export interface StatusSnapshot {
  readonly version: string;
  readonly generatedAt: string;
  /** 'bridge': asked the running bridge; 'store': read from the state dir with no bridge running. */
  readonly from: 'bridge' | 'store';
  readonly source: SourceStatus;
  readonly urls: readonly UrlStatus[];
  /** The latest dead letters, newest first (at most 20). */
  readonly deadLetters: readonly DeadLetterSummary[];
}
