// The running bridge's view of the server: every ~30 s it reads the binlog's head, files and purge
// settings (source-lag-query.ts), measures the write rate between two reads, and sets the gauges
// ucw_source_lag_bytes and ucw_binlog_retention_headroom_seconds. GET /api/status shows the latest
// read rather than querying the server per request. A failed read is logged at debug (the source's
// own errors are the supervisor's to report) and the gauges keep their last value.

import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { StoredCheckpoint } from '../outbox/records.js';
import { safeTimeout, type SafeTimer } from '../safe-timer.js';
import { rateBetween, readServerBinlog, serverFields, type ServerBinlog } from './source-lag-query.js';
import type { SourceStatus } from './status-types.js';

export const SAMPLE_INTERVAL_MS = 30_000;
/** Until the first checkpoint exists (a first run), the server is read again this soon. */
const NO_CHECKPOINT_RETRY_MS = 1_000;

export interface SourceLagSamplerOptions {
  readonly db: Parameters<typeof readServerBinlog>[0];
  readonly checkpoint: () => StoredCheckpoint | undefined;
  readonly metrics: Pick<Metrics, 'sourceLagBytes' | 'binlogRetentionHeadroomSeconds'>;
  readonly logger: Pick<Logger, 'debug'>;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class SourceLagSampler {
  private timer: SafeTimer | undefined;
  private stopped = false;
  private last: ServerBinlog | undefined;
  private rate: number | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: SourceLagSamplerOptions) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    await this.running;
  }

  /** The server fields of a snapshot from the latest read (empty before the first one). */
  fields(): Partial<SourceStatus> {
    if (!this.last) return {};
    return serverFields(this.last, this.opts.checkpoint(), this.rate, (this.opts.now ?? Date.now)());
  }

  /** One read of the server; sets the gauges. */
  async sample(): Promise<void> {
    const now = this.opts.now ?? Date.now;
    const server = await readServerBinlog(this.opts.db, now);
    // A rate over a stretch the server rotated out of SHOW BINARY LOGS is unknown; the last one stands.
    this.rate = rateBetween(this.last, server) ?? this.rate;
    this.last = server;
    const f = serverFields(server, this.opts.checkpoint(), this.rate, now());
    const { metrics } = this.opts;
    metrics.sourceLagBytes.set(f.lagBytes ?? Number.NaN);
    const limited = server.retention.expireSeconds || server.retention.totalSizeCapBytes;
    metrics.binlogRetentionHeadroomSeconds.set(
      f.retentionHeadroomSeconds ?? (limited ? Number.NaN : Number.POSITIVE_INFINITY),
    );
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = safeTimeout(() => {
      this.running = this.sample()
        .catch((err: unknown) => this.opts.logger.debug({ err }, 'source lag sample failed'))
        .finally(() =>
          this.schedule(
            this.opts.checkpoint() === undefined
              ? NO_CHECKPOINT_RETRY_MS
              : (this.opts.intervalMs ?? SAMPLE_INTERVAL_MS),
          ),
        );
    }, delayMs);
  }
}
