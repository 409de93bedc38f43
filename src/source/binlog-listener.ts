// The only module that runs @vlasky/zongji (transaction-assembler.ts reads its event types). It turns
// the binlog stream into committed SourceTransactions of watched tables (the assembler's work), handed
// one at a time, in order, to an async handler. A transaction is only handed over at its commit event,
// with the position right after that event as its resume point; the stream is paused while handed-over
// work piles up.

import ZongJi, { type AnyBinlogEvent, type BinlogEventName } from '@vlasky/zongji';
import { EventEmitter } from 'node:events';
import type { BinlogPosition, SourceTransaction } from '../domain/row-change.js';
import type { Logger } from '../logger.js';
import { mysql2Options, type SourceConnection } from './connection.js';
import { classifyStreamError } from './stream-errors.js';
import { TransactionAssembler } from './transaction-assembler.js';

export interface ListenerOptions {
  readonly conn: SourceConnection;
  /** Replica server id of the bridge: must differ from every server and replica in the topology. */
  readonly serverId: number;
  /** `schema.table` names whose rows are decoded; all others are skipped by zongji. */
  readonly tables: readonly string[];
  readonly from: BinlogPosition;
  /** Seconds between server heartbeats while the binlog is idle. */
  readonly heartbeatSeconds: number;
  /** Pause reading when this many row changes wait for the handler. */
  readonly maxQueuedRows: number;
  readonly handler: (tx: SourceTransaction) => Promise<void>;
  readonly logger: Logger;
}

const INCLUDED_EVENTS: BinlogEventName[] = [
  'rotate',
  'tablemap',
  'writerows',
  'updaterows',
  'deleterows',
  'xid',
  'query',
  'mariadbgtid',
  'gtid',
  'anonymousgtid',
  'heartbeat',
  'xaprepare',
];

/** Smallest part a large transaction is handed over in. */
const MIN_PART_ROWS = 100;

/** Session settings so a pause for backpressure does not make the server drop the stream. */
const STREAM_NET_WRITE_TIMEOUT_S = 600;

/**
 * Events: 'ready' (stream open), 'heartbeat' (position), 'error' (BridgeError; the listener is dead
 * after it and must be replaced), 'stopped'.
 */
export class BinlogListener extends EventEmitter {
  private zongji: ZongJi | undefined;
  private readonly assembler: TransactionAssembler;
  private readonly queue: SourceTransaction[] = [];
  private queuedRows = 0;
  private draining = false;
  private paused = false;
  private stopped = false;
  private failed = false;
  /** Wall-clock time of the last event of any kind (heartbeats included), or of the handler finishing a transaction. */
  lastEventAtMs = Date.now();

  constructor(private readonly opts: ListenerOptions) {
    super();
    this.assembler = new TransactionAssembler({
      from: opts.from,
      watched: new Set(opts.tables),
      partRows: Math.max(MIN_PART_ROWS, Math.floor(opts.maxQueuedRows / 4)),
      handOver: (tx) => this.handOver(tx),
    });
  }

  /** True while reading is held back because handed-over work piles up (silence is then expected). */
  get backpressured(): boolean {
    return this.paused;
  }

  /**
   * True while the handler works on handed-over transactions. The process may then be too busy to
   * read the socket (a large transaction keeps the event loop for seconds), so silence is ours.
   */
  get busy(): boolean {
    return this.draining;
  }

  start(): void {
    const { conn, serverId, from } = this.opts;
    const zongji = new ZongJi(mysql2Options(conn));
    this.zongji = zongji;
    zongji.on('error', (err: Error) => this.fail(err));
    zongji.on('binlog', (ev: AnyBinlogEvent) => {
      try {
        this.onEvent(ev);
      } catch (err) {
        this.fail(err);
      }
    });
    zongji.on('ready', () => {
      this.tuneSession();
      this.opts.logger.info({ from: `${from.file}:${from.pos}` }, 'binlog stream open');
      this.emit('ready');
    });
    const includeSchema: Record<string, string[]> = {};
    for (const t of this.opts.tables) {
      const [schema, table] = t.split('.') as [string, string];
      (includeSchema[schema] ??= []).push(table);
    }
    zongji.start({
      serverId,
      filename: from.file,
      position: from.pos,
      includeEvents: INCLUDED_EVENTS,
      includeSchema,
    });
  }

  /** Stops reading; resolves once the handler has finished the transaction it was given, if any. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.queue.length = 0;
    this.queuedRows = 0;
    this.shutdownZongji();
    while (this.draining) await new Promise((r) => setTimeout(r, 5));
    this.emit('stopped');
  }

  private shutdownZongji(): void {
    const z = this.zongji;
    if (!z) return;
    this.zongji = undefined;
    try {
      z.stop();
    } catch (err) {
      this.opts.logger.debug({ err }, 'zongji stop failed');
    }
  }

  private tuneSession(): void {
    const c = this.zongji?.connection;
    if (!c) return;
    const periodNs = BigInt(this.opts.heartbeatSeconds) * 1_000_000_000n;
    // zongji has no hook before the dump request, so these are sent once the stream is open; on
    // MariaDB 10.11 this was measured to produce one heartbeat per period.
    c.query(`SET @master_heartbeat_period = ${periodNs.toString()}`, () => undefined);
    c.query(`SET SESSION net_write_timeout = ${STREAM_NET_WRITE_TIMEOUT_S}`, () => undefined);
  }

  private onEvent(ev: AnyBinlogEvent): void {
    if (this.stopped) return;
    this.lastEventAtMs = Date.now();
    if (ev.getEventName() === 'heartbeat') {
      this.emit('heartbeat');
      return;
    }
    this.assembler.onEvent(ev);
  }

  private handOver(tx: SourceTransaction): void {
    const changes = tx.changes;
    this.queue.push(tx);
    this.queuedRows += changes.length + 1;
    if (!this.paused && this.queuedRows >= this.opts.maxQueuedRows) {
      this.paused = true;
      this.zongji?.connection?.pause();
    }
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.stopped && !this.failed) {
        const tx = this.queue.shift();
        if (!tx) break;
        this.queuedRows -= tx.changes.length + 1;
        await this.opts.handler(tx);
        // Silence while the handler worked (or we held the stream back) was ours, not the server's.
        this.lastEventAtMs = Date.now();
        if (this.paused && this.queuedRows <= this.opts.maxQueuedRows / 2) {
          this.paused = false;
          this.zongji?.connection?.resume();
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.draining = false;
    }
  }

  private fail(err: unknown): void {
    if (this.failed || this.stopped) return;
    this.failed = true;
    this.shutdownZongji();
    this.emit('error', classifyStreamError(err));
  }
}
