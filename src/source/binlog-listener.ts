// The only module that imports @vlasky/zongji. It turns the binlog stream into committed
// SourceTransactions of watched tables, handed one at a time, in order, to an async handler.
// A transaction is only handed over at its commit event, with the position right after that event
// as its resume point; the stream is paused while handed-over work piles up (byte/row budget).

import ZongJi, { type AnyBinlogEvent, type BinlogEventByName, type BinlogEventName } from '@vlasky/zongji';
import { EventEmitter } from 'node:events';
import type { BinlogPosition, RowChange, SourceTransaction } from '../domain/row-change.js';
import type { Logger } from '../logger.js';
import { mysql2Options, type SourceConnection } from './connection.js';
import { classifyStreamError } from './stream-errors.js';

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

function is<N extends BinlogEventName>(ev: AnyBinlogEvent, name: N): ev is BinlogEventByName<N> {
  return ev.getEventName() === name;
}

/**
 * Events: 'ready' (stream open), 'heartbeat' (position), 'error' (BridgeError; the listener is dead
 * after it and must be replaced), 'stopped'.
 */
export class BinlogListener extends EventEmitter {
  private zongji: ZongJi | undefined;
  private file: string;
  private pending: RowChange[] | undefined;
  /** Commit position of the last transaction handed over (a partial part's resume point). */
  private lastQueuedCommit: BinlogPosition;
  /** Rows of one open transaction held before they are handed over as a part. */
  private readonly partRows: number;
  private readonly queue: SourceTransaction[] = [];
  private queuedRows = 0;
  private draining = false;
  private paused = false;
  private stopped = false;
  private failed = false;
  /** Wall-clock time of the last event of any kind (heartbeats included), or of the handler finishing a transaction. */
  lastEventAtMs = Date.now();
  private readonly watched: Set<string>;

  constructor(private readonly opts: ListenerOptions) {
    super();
    this.file = opts.from.file;
    this.lastQueuedCommit = opts.from;
    this.partRows = Math.max(MIN_PART_ROWS, Math.floor(opts.maxQueuedRows / 4));
    this.watched = new Set(opts.tables);
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
    if (is(ev, 'rotate')) {
      this.file = ev.binlogName;
      return;
    }
    if (is(ev, 'heartbeat')) {
      this.emit('heartbeat');
      return;
    }
    if (is(ev, 'mariadbgtid')) {
      this.pending = [];
      return;
    }
    if (is(ev, 'gtid') || is(ev, 'anonymousgtid')) {
      this.pending = [];
      return;
    }
    if (is(ev, 'writerows') || is(ev, 'updaterows') || is(ev, 'deleterows')) {
      this.onRows(ev);
      return;
    }
    if (is(ev, 'xid') || is(ev, 'xaprepare')) {
      this.commit(ev.nextPosition, ev.timestamp);
      return;
    }
    if (is(ev, 'query')) {
      const q = ev.query.trim().toUpperCase();
      if (q === 'BEGIN') {
        this.pending = [];
      } else {
        // COMMIT of a non-transactional table, or DDL / any standalone statement: a group boundary.
        this.commit(ev.nextPosition, ev.timestamp);
      }
    }
  }

  private onRows(
    ev: BinlogEventByName<'writerows'> | BinlogEventByName<'updaterows'> | BinlogEventByName<'deleterows'>,
  ): void {
    const meta = ev.tableMap[ev.tableId];
    if (!meta) return;
    const table = `${meta.parentSchema}.${meta.tableName}`;
    if (!this.watched.has(table)) return;
    // A part goes over once the next rows event of the same transaction comes: a transaction of
    // exactly partRows rows is then still handed over whole, with its commit.
    this.handOverPartIfLarge(ev.timestamp);
    const pending = (this.pending ??= []);
    const schema = meta.parentSchema;
    const tableName = meta.tableName;
    const file = this.file;
    const eventPos = ev.nextPosition;
    const timestampMs = ev.timestamp;
    // One literal per row, fields in RowChange's order: every change has the same shape (spreading a
    // shared base object was the biggest allocation of the read path).
    if (is(ev, 'updaterows')) {
      const rows = ev.rows;
      for (let rowIndex = 0; rowIndex < rows.length; rowIndex++) {
        const r = rows[rowIndex]!;
        pending.push({ kind: 'update', schema, table: tableName, before: r.before, after: r.after, file, eventPos, rowIndex, timestampMs });
      }
    } else {
      const insert = is(ev, 'writerows');
      const rows = ev.rows;
      for (let rowIndex = 0; rowIndex < rows.length; rowIndex++) {
        const r = rows[rowIndex]!;
        pending.push({
          kind: insert ? 'insert' : 'delete',
          schema,
          table: tableName,
          before: insert ? null : r,
          after: insert ? r : null,
          file,
          eventPos,
          rowIndex,
          timestampMs,
        });
      }
    }
  }

  private commit(nextPosition: number, timestampMs: number): void {
    const changes = this.pending ?? [];
    this.pending = undefined;
    this.handOver({ changes, partial: false, commit: { file: this.file, pos: nextPosition }, timestampMs });
  }

  /**
   * Hands a large open transaction over in parts, so memory is bounded by the part size (plus one
   * rows event) rather than the transaction size; the handler keeps parts uncommitted until the
   * final one.
   */
  private handOverPartIfLarge(timestampMs: number): void {
    if (!this.pending || this.pending.length < this.partRows) return;
    const changes = this.pending;
    this.pending = [];
    this.handOver({ changes, partial: true, commit: this.lastQueuedCommit, timestampMs });
  }

  private handOver(tx: SourceTransaction): void {
    if (!tx.partial) this.lastQueuedCommit = tx.commit;
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
