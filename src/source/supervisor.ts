// Keeps one binlog listener alive: preflight, prepare (load state, pick the start position), stream;
// on a retryable failure or a silent stream, reconnect with exponential backoff from the last
// committed checkpoint. A non-retryable failure (wrong binlog settings, binlog gone), or one that
// repeats at the same checkpoint (StuckDetector), is reported through `onFatal` and the supervisor
// stops: guessing would lose or invent events, and retrying forever would hide it.

import type { BinlogPosition, SourceTransaction } from '../domain/row-change.js';
import { BridgeError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import { safeTimeout } from '../safe-timer.js';
import { BinlogListener, type ListenerOptions } from './binlog-listener.js';
import type { SourceConnection } from './connection.js';
import { preflight, type PreflightDb } from './preflight.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { isConnectionLoss } from './stream-errors.js';
import { StuckDetector } from './stuck-detector.js';
import type { ServerSettings } from './source-db.js';

export interface SupervisorOptions {
  readonly conn: SourceConnection;
  readonly db: PreflightDb;
  readonly serverId: number;
  readonly tables: readonly string[];
  readonly heartbeatSeconds: number;
  readonly maxQueuedRows: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Runs after preflight on every (re)connect; returns the position to stream from. */
  readonly prepare: (settings: ServerSettings) => Promise<BinlogPosition>;
  readonly handler: (tx: SourceTransaction) => Promise<void>;
  readonly onFatal: (err: BridgeError) => void;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * A table's rows can no longer be decoded (schema drift without binlog_row_metadata=FULL): stops the
   * rules reading it and returns their ids, or undefined when the bridge cannot go on without the
   * table (a mirrored one). The stream then goes on without that table.
   */
  readonly onTableDrift?: (table: string) => string[] | undefined;
  /** Clock of the healthy-stream period (tests inject one); Date.now by default. */
  readonly now?: () => number;
  /** Makes each attempt's listener; a BinlogListener by default (unit tests pass a fake). */
  readonly createListener?: (opts: ListenerOptions) => SourceListener;
}

/** What the supervisor uses of a binlog listener (BinlogListener has it). */
export interface SourceListener {
  readonly lastEventAtMs: number;
  readonly backpressured: boolean;
  readonly busy: boolean;
  start(): void;
  stop(): Promise<void>;
  once(event: 'ready' | 'error', fn: (err: BridgeError) => void): unknown;
  emit(event: 'error', err: BridgeError): boolean;
}

/** A stream with no event (heartbeats included) for this many heartbeat periods is declared dead. */
const SILENT_PERIODS_BEFORE_RESTART = 3;
/** A stream open this many heartbeat periods (a minute by default) was healthy: backoff starts over. */
const HEALTHY_PERIODS = 12;

export class SourceSupervisor {
  private listener: SourceListener | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  connected = false;
  /** Last reason the stream is not connected (for /readyz). */
  lastError: string | undefined = 'not connected yet';
  private readonly backoff: ReconnectBackoff;
  private readonly stuck = new StuckDetector();
  /** Where the current attempt streams from; undefined until prepare() has answered. */
  private streamFrom: BinlogPosition | undefined;
  /** The watchdog's error when it ended the current stream (silence is not a fact about a position). */
  private silence: BridgeError | undefined;
  /** Tables dropped from the stream after a schema drift (their rules are stopped). */
  private readonly undecodable = new Set<string>();

  constructor(private readonly opts: SupervisorOptions) {
    this.backoff = new ReconnectBackoff({
      minMs: opts.reconnectMinMs,
      maxMs: opts.reconnectMaxMs,
      healthyAfterMs: opts.heartbeatSeconds * 1000 * HEALTHY_PERIODS,
      now: opts.now ?? Date.now,
    });
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.listener?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger, metrics } = this.opts;
    while (!this.stopped) {
      try {
        await this.streamOnce();
      } catch (e) {
        let err =
          e instanceof BridgeError
            ? e
            : new BridgeError('UCW_ERR_SOURCE_STREAM', describeError(e).message, { retryable: true, cause: e });
        this.connected = false;
        metrics.sourceConnected.set(0);
        if (err.code === 'UCW_ERR_RULES_SCHEMA_DRIFT' && this.streamFrom && !this.stopped) {
          // Streams on at once without the table; a mirrored table cannot be dropped: fatal.
          if (this.dropDriftedTable(err, this.streamFrom)) continue;
          err = new BridgeError(err.code, err.message, { hint: err.hint, details: err.details, cause: err });
        }
        if (this.streamFrom === undefined || err === this.silence || isConnectionLoss(err)) this.stuck.other();
        else err = this.stuck.failed(this.streamFrom, err) ?? err;
        this.lastError = `${err.code}: ${err.message}`;
        if (this.stopped) break;
        if (!err.retryable) {
          logger.fatal(
            { code: err.code, error: err.message, hint: err.hint, ...err.details },
            'source failed; not retrying',
          );
          this.stopped = true;
          this.opts.onFatal(err);
          break;
        }
        const { delayMs, failures } = this.backoff.failed();
        logger.warn(
          { code: err.code, error: err.message, hint: err.hint, retryInMs: delayMs, failures },
          'source unavailable; reconnecting',
        );
        metrics.sourceReconnects.inc();
        await this.sleep(delayMs);
      }
    }
  }

  /** Stops the rules of a table whose rows cannot be decoded and streams on without it; false when it cannot. */
  private dropDriftedTable(err: BridgeError, from: BinlogPosition): boolean {
    const table = err.details?.table;
    if (typeof table !== 'string') return false;
    const rules = this.opts.onTableDrift?.(table);
    if (!rules) return false;
    this.undecodable.add(table);
    const position = `${from.file}:${from.pos}`;
    if (rules.length === 0) {
      this.opts.logger.warn(
        { code: err.code, table, position, error: err.message },
        'schema drift: table no longer read from the binlog (no rule reads it)',
      );
    }
    for (const rule of rules) {
      this.opts.logger.error(
        { code: err.code, rule, table, position, error: err.message, hint: err.hint },
        'schema drift: rule stopped (fail closed); other rules continue',
      );
    }
    return true;
  }

  /** One connection's life; resolves only when stopped, rejects when the stream ends otherwise. */
  private async streamOnce(): Promise<void> {
    const o = this.opts;
    this.streamFrom = undefined;
    this.silence = undefined;
    const settings = await preflight(o.db, o.logger);
    const from = await o.prepare(settings);
    this.streamFrom = from;
    if (this.stopped) return;
    const listener = (o.createListener ?? ((l) => new BinlogListener(l)))({
      conn: o.conn,
      serverId: o.serverId,
      tables: o.tables.filter((t) => !this.undecodable.has(t)),
      from,
      heartbeatSeconds: o.heartbeatSeconds,
      maxQueuedRows: o.maxQueuedRows,
      handler: o.handler,
      logger: o.logger,
    });
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      const watchdog = setInterval(
        () => {
          const silentMs = Date.now() - listener.lastEventAtMs;
          // Only silence while the listener waits on the network counts: not while it holds the
          // stream back, nor while the handler is busy with what it already received.
          if (
            !listener.backpressured &&
            !listener.busy &&
            silentMs > o.heartbeatSeconds * 1000 * SILENT_PERIODS_BEFORE_RESTART
          ) {
            this.silence = new BridgeError(
              'UCW_ERR_SOURCE_STREAM',
              `no binlog event or heartbeat for ${Math.round(silentMs / 1000)} s`,
              { retryable: true },
            );
            listener.emit('error', this.silence);
          }
        },
        Math.max(250, (o.heartbeatSeconds * 1000) / 2),
      );
      const done = (err?: BridgeError): void => {
        clearInterval(watchdog);
        this.wake = undefined;
        void listener.stop().finally(() => (err ? reject(err) : resolve()));
      };
      this.wake = () => done();
      listener.once('ready', () => {
        this.connected = true;
        this.lastError = undefined;
        this.backoff.up();
        o.metrics.sourceConnected.set(1);
      });
      listener.once('error', (err: BridgeError) => done(err));
      listener.start();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = safeTimeout(resolve, ms, true);
      this.wake = () => {
        t.clear();
        resolve();
      };
    });
  }
}
