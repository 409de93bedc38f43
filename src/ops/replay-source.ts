// The binlog side of `replay`: a bounded, read-only binlog dump (zongji, as the bridge's listener runs
// it, with its own server id) through the bridge's TransactionAssembler, so row changes get the same
// transaction identity and ordinals, hence the same event ids. It stops at a position (never past
// it), after a GTID's transaction, before a transaction later than a time, or when the server says the
// stream is idle; it never writes to the source.

import ZongJi, { type AnyBinlogEvent, type BinlogEventName } from '@vlasky/zongji';
import type { BinlogPosition, SourceTransaction } from '../domain/row-change.js';
import { mysql2Options, type SourceConnection } from '../source/connection.js';
import { classifyStreamError } from '../source/stream-errors.js';
import { TransactionAssembler } from '../source/transaction-assembler.js';
import { comparePositions } from './replay-position.js';

/** A transaction as replay reads it: where its GTID event ends (0 when unknown). */
export interface ReadTransaction extends SourceTransaction {
  readonly gtidEventEnd: number;
}

export interface RangeReadOptions {
  readonly conn: SourceConnection;
  readonly serverId: number;
  /** `schema.table` names whose row changes are decoded. */
  readonly tables: readonly string[];
  readonly from: BinlogPosition;
  /** Nothing at or after this position is read (a transaction boundary). */
  readonly end: BinlogPosition;
  /** Stop after the transaction with this GTID (`d-s-n`). */
  readonly afterGtid?: string | undefined;
  /** Stop before the first transaction committed after this time (epoch ms; second precision). */
  readonly untilMs?: number | undefined;
  readonly heartbeatSeconds: number;
  readonly maxQueuedRows: number;
  readonly handler: (tx: ReadTransaction) => Promise<void>;
  /** Told the position of every event read (for progress). */
  readonly onPosition?: (at: BinlogPosition) => void;
}

const EVENTS: BinlogEventName[] = [
  'rotate',
  'format',
  'tablemap',
  'writerows',
  'updaterows',
  'deleterows',
  'xid',
  'query',
  'mariadbgtid',
  'mariadbgtidlist',
  'binlogcheckpoint',
  'gtid',
  'anonymousgtid',
  'heartbeat',
  'xaprepare',
];

/** Reads the range; resolves with the position reached once every transaction in it was handled. */
export function readBinlogRange(opts: RangeReadOptions): Promise<BinlogPosition> {
  return new Promise((resolve, reject) => {
    const queue: ReadTransaction[] = [];
    let queuedRows = 0;
    let paused = false;
    let draining = false;
    let ending = false;
    let settled = false;
    let stopAfterCommit = false;
    let file = opts.from.file;
    let reached: BinlogPosition = opts.from;
    let gtidEventEnd = 0;
    const zongji = new ZongJi(mysql2Options(opts.conn));
    const shutdown = (): void => {
      try {
        zongji.stop();
      } catch {
        // already stopped
      }
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      shutdown();
      reject(classifyStreamError(err));
    };
    const finishWhenDrained = (): void => {
      if (settled || !ending || draining || queue.length > 0) return;
      settled = true;
      resolve(reached);
    };
    const end = (): void => {
      if (ending) return;
      ending = true;
      shutdown();
      finishWhenDrained();
    };
    const drain = async (): Promise<void> => {
      draining = true;
      try {
        for (let tx = queue.shift(); tx && !settled; tx = queue.shift()) {
          queuedRows -= tx.changes.length + 1;
          await opts.handler(tx);
          if (!tx.partial) reached = tx.commit;
          if (paused && queuedRows <= opts.maxQueuedRows / 2) {
            paused = false;
            zongji.connection?.resume();
          }
        }
      } catch (err) {
        fail(err);
      } finally {
        draining = false;
      }
      finishWhenDrained();
    };
    const assembler = new TransactionAssembler({
      from: opts.from,
      watched: new Set(opts.tables),
      partRows: Math.max(100, Math.floor(opts.maxQueuedRows / 4)),
      handOver: (tx) => {
        if (ending) return;
        if (opts.untilMs !== undefined && Math.floor(tx.timestampMs / 1000) > Math.floor(opts.untilMs / 1000)) {
          end();
          return;
        }
        queue.push({ ...tx, gtidEventEnd });
        queuedRows += tx.changes.length + 1;
        if (!paused && queuedRows >= opts.maxQueuedRows) {
          paused = true;
          zongji.connection?.pause();
        }
        if (!tx.partial && stopAfterCommit) end();
        if (!draining) void drain();
      },
    });
    const onEvent = (ev: AnyBinlogEvent): void => {
      if (ending || settled) return;
      const name = ev.getEventName();
      if (name === 'heartbeat') {
        // Sent only while the server has nothing more: everything up to now was read.
        end();
        return;
      }
      if (name === 'rotate') {
        file = (ev as unknown as { binlogName: string }).binlogName;
        if (comparePositions({ file, pos: 4 }, opts.end) >= 0) {
          end();
          return;
        }
      } else if (ev.nextPosition > 0) {
        const at = { file, pos: ev.nextPosition };
        if (comparePositions(at, opts.end) > 0) {
          end();
          return;
        }
        opts.onPosition?.(at);
      }
      if (name === 'mariadbgtid' || name === 'gtid' || name === 'anonymousgtid') {
        gtidEventEnd = ev.nextPosition;
        if (opts.afterGtid !== undefined && (ev as unknown as { gtid?: string }).gtid === opts.afterGtid) {
          stopAfterCommit = true;
        }
      }
      assembler.onEvent(ev);
      if (ev.nextPosition > 0 && comparePositions({ file, pos: ev.nextPosition }, opts.end) === 0) end();
    };
    // Once the range is read, zongji is stopped by us, mid-work: what it reports then is that stop.
    zongji.on('error', (err: unknown) => {
      if (!ending) fail(err);
    });
    zongji.on('binlog', (ev: AnyBinlogEvent) => {
      try {
        onEvent(ev);
      } catch (err) {
        fail(err);
      }
    });
    zongji.on('ready', () => {
      const periodNs = BigInt(opts.heartbeatSeconds) * 1_000_000_000n;
      zongji.connection?.query(`SET @master_heartbeat_period = ${periodNs.toString()}`, () => undefined);
    });
    if (comparePositions(opts.from, opts.end) >= 0) {
      settled = true;
      resolve(opts.from);
      return;
    }
    const includeSchema: Record<string, string[]> = {};
    for (const t of opts.tables) {
      const [schema, table] = t.split('.') as [string, string];
      (includeSchema[schema] ??= []).push(table);
    }
    zongji.start({
      serverId: opts.serverId,
      filename: opts.from.file,
      position: opts.from.pos,
      includeEvents: EVENTS,
      includeSchema,
    });
  });
}

/** When a binlog file began: the time of its format description event (a short dump from its start). */
export function fileStartedAt(conn: SourceConnection, serverId: number, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const zongji = new ZongJi(mysql2Options(conn));
    let done = false;
    const finish = (err: unknown, ms?: number): void => {
      if (done) return;
      done = true;
      try {
        zongji.stop();
      } catch {
        // already stopped
      }
      if (err) reject(classifyStreamError(err));
      else resolve(ms!);
    };
    zongji.on('error', (err: unknown) => finish(err));
    zongji.on('binlog', (ev: AnyBinlogEvent) => {
      if (ev.getEventName() === 'format' && ev.timestamp > 0) finish(undefined, ev.timestamp);
    });
    zongji.start({ serverId, filename: file, position: 4, includeEvents: ['format'] });
  });
}
