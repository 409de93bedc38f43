// Transaction boundaries and row-change identity, from zongji-like events: ids unique and equal
// whether a transaction is read whole, in parts or again after a restart; savepoints do not split a
// transaction and rolled-back rows are never handed over; two-phase XA on watched tables is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyBinlogEvent } from '@vlasky/zongji';
import { eventIdFor } from '../../src/domain/event-id.js';
import type { BinlogPosition, Row, SourceTransaction } from '../../src/domain/row-change.js';
import { BridgeError } from '../../src/errors.js';
import { classifyQuery } from '../../src/source/query-kind.js';
import { TransactionAssembler } from '../../src/source/transaction-assembler.js';
import {
  ev,
  INTERACTIONS,
  mariadbGtid,
  query,
  QUEUE_LOG,
  rotate,
  updateRows,
  USERS,
  writeRows,
  xaPrepare,
  xid,
} from '../helpers/fake-binlog.js';

const FILE = 'binlog.000003';
const ALL = ['ccrepo.queue_log_repo', 'ccdata.users', 'ccrepo.interactions'];

function assemble(
  events: AnyBinlogEvent[],
  opts: { from?: BinlogPosition; partRows?: number; watched?: string[] } = {},
): SourceTransaction[] {
  const out: SourceTransaction[] = [];
  const a = new TransactionAssembler({
    from: opts.from ?? { file: FILE, pos: 4 },
    watched: new Set(opts.watched ?? ALL),
    partRows: opts.partRows ?? 1_000_000,
    handOver: (tx) => out.push(tx),
  });
  for (const e of events) a.onEvent(e);
  return out;
}

const row = (tag: string): Row => ({ tag });
const rowsOf = (tag: string, n: number): Row[] => Array.from({ length: n }, (_, i) => row(`${tag}${i}`));
/** Every handed-over change as `tag=id`, the id that of a fixed rule. */
const ids = (txs: SourceTransaction[]): string[] =>
  txs.flatMap((tx) => tx.changes.map((c) => `${String((c.after ?? c.before)!.tag)}=${eventIdFor(c, 'r')}`));
const tags = (txs: SourceTransaction[]): string[] =>
  txs.flatMap((tx) => tx.changes.map((c) => String((c.after ?? c.before)!.tag)));
const shape = (txs: SourceTransaction[]): Array<[boolean, number, string]> =>
  txs.map((tx) => [tx.partial, tx.changes.length, `${tx.commit.file}:${tx.commit.pos}`]);

/** Two transactions in MariaDB 11.4 style: rows events at position 0 on three tables, > 250 rows each. */
function twoLargeTransactions(): AnyBinlogEvent[] {
  const events: AnyBinlogEvent[] = [];
  for (const [gtid, commit, tag] of [
    ['0-1-100', 50_000, 'a'],
    ['0-1-101', 90_000, 'b'],
  ] as const) {
    events.push(mariadbGtid(gtid, commit - 40_000));
    for (let i = 0; i < 12; i++) {
      events.push(writeRows(QUEUE_LOG, rowsOf(`${tag}q${i}.`, 15)));
      events.push(writeRows(USERS, rowsOf(`${tag}u${i}.`, 5)));
      events.push(
        updateRows(
          INTERACTIONS,
          rowsOf(`${tag}i${i}.`, 3).map((r) => ({ before: r, after: r })),
        ),
      );
    }
    events.push(xid(commit));
  }
  return events;
}

void describe('TransactionAssembler: ids where rows events carry position 0', () => {
  void it('gives every row its own id; read whole, in parts or after a restart they are the same', () => {
    const events = twoLargeTransactions();
    const whole = assemble(events);
    assert.deepEqual(shape(whole), [
      [false, 276, `${FILE}:50000`],
      [false, 276, `${FILE}:90000`],
    ]);
    const wholeIds = ids(whole);
    assert.equal(new Set(wholeIds.map((x) => x.split('=')[1])).size, 552, 'ids unique');

    const parts = assemble(events, { partRows: 100 });
    assert.ok(parts.filter((tx) => tx.partial).length >= 4, `${parts.length} hand-overs`);
    assert.deepEqual(ids(parts), wholeIds, 'parts: same ids');

    // A restart from the first commit reads the second transaction again, from its start.
    const restarted = assemble(events.slice(events.findIndex((e) => e.getEventName() === 'xid') + 1), {
      from: { file: FILE, pos: 50_000 },
      partRows: 100,
    });
    assert.deepEqual(ids(restarted), wholeIds.slice(276), 'restart: same ids');
  });

  void it('names changes by GTID, table and ordinal within the table; start is the resume point before it', () => {
    const [tx] = assemble(
      [
        mariadbGtid('0-1-7', 500),
        writeRows(QUEUE_LOG, rowsOf('q', 2)),
        writeRows(USERS, rowsOf('u', 1)),
        writeRows(QUEUE_LOG, rowsOf('r', 1)),
        xid(800),
      ],
      { from: { file: FILE, pos: 400 } },
    );
    assert.deepEqual(
      tx!.changes.map((c) => [c.tx.id, `${c.schema}.${c.table}`, c.ordinal, `${c.tx.start.file}:${c.tx.start.pos}`]),
      [
        ['gtid:0-1-7', 'ccrepo.queue_log_repo', 0, `${FILE}:400`],
        ['gtid:0-1-7', 'ccrepo.queue_log_repo', 1, `${FILE}:400`],
        ['gtid:0-1-7', 'ccdata.users', 0, `${FILE}:400`],
        ['gtid:0-1-7', 'ccrepo.queue_log_repo', 2, `${FILE}:400`],
      ],
    );
  });

  void it('the ids of a table do not depend on which other tables are watched', () => {
    const events = twoLargeTransactions();
    const all = ids(assemble(events)).filter((x) => x.includes('q'));
    const queueOnly = ids(assemble(events, { watched: ['ccrepo.queue_log_repo'], partRows: 100 }));
    assert.deepEqual(queueOnly, all);
  });

  void it('without a GTID: the first real position (MySQL anonymous GTID), else the start', () => {
    const anon = assemble(
      [ev('anonymousgtid', 700), query('BEGIN', 0), writeRows(QUEUE_LOG, rowsOf('q', 1)), xid(900)],
      { from: { file: FILE, pos: 620 } },
    );
    assert.equal(anon[0]!.changes[0]!.tx.id, `pos:${FILE}:700`);
    const begin = assemble([query('BEGIN', 0), writeRows(QUEUE_LOG, rowsOf('q', 1), 0), xid(900)], {
      from: { file: FILE, pos: 620 },
    });
    assert.equal(begin[0]!.changes[0]!.tx.id, `pos:${FILE}:620`);
    const mysql = assemble([
      ev('gtid', 700, { gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23' }),
      query('BEGIN', 760),
      writeRows(QUEUE_LOG, rowsOf('q', 1), 820),
      xid(900),
    ]);
    assert.equal(mysql[0]!.changes[0]!.tx.id, 'gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:23');
  });

  void it('after a rotate, a transaction starts at the new file position', () => {
    const txs = assemble([
      rotate('binlog.000004', 4),
      mariadbGtid('0-1-8', 300),
      writeRows(QUEUE_LOG, rowsOf('q', 1)),
      xid(600),
    ]);
    assert.deepEqual(txs[0]!.changes[0]!.tx.start, { file: 'binlog.000004', pos: 4 });
    assert.deepEqual(txs[0]!.commit, { file: 'binlog.000004', pos: 600 });
  });
});

void describe('TransactionAssembler: savepoints, rollbacks and XA', () => {
  void it('SAVEPOINT is not a boundary: the transaction is handed over once, at its XID (as MariaDB writes it)', () => {
    // BEGIN; INSERT; SAVEPOINT s; INSERT; ROLLBACK TO SAVEPOINT s; INSERT; COMMIT on InnoDB: the
    // rolled-back row is not in the binlog, the SAVEPOINT is.
    const txs = assemble([
      mariadbGtid('0-1-9', 5947),
      writeRows(QUEUE_LOG, [row('sp1')], 6341),
      query('SAVEPOINT `s`', 6417),
      writeRows(QUEUE_LOG, [row('sp3')], 6811),
      xid(6842),
    ]);
    assert.deepEqual(shape(txs), [[false, 2, `${FILE}:6842`]]);
    assert.deepEqual(tags(txs), ['sp1', 'sp3']);
  });

  void it('ROLLBACK TO drops the rows after the savepoint (written when a non-transactional table took part)', () => {
    const txs = assemble([
      mariadbGtid('0-1-12', 6592),
      writeRows(QUEUE_LOG, [row('m1')]),
      query('SAVEPOINT `s`', 0),
      writeRows(QUEUE_LOG, [row('m2')]),
      query('SAVEPOINT `t`', 0),
      writeRows(QUEUE_LOG, [row('m3')]),
      query('ROLLBACK TO `s`', 0),
      writeRows(QUEUE_LOG, [row('m4')]),
      query('ROLLBACK TO SAVEPOINT `t`', 0), // t was removed by the rollback to s: back to the start
      writeRows(QUEUE_LOG, [row('m5')]),
      xid(8345),
    ]);
    assert.deepEqual(shape(txs), [[false, 1, `${FILE}:8345`]]);
    assert.deepEqual(tags(txs), ['m5']);
    assert.equal(txs[0]!.changes[0]!.ordinal, 4, 'ordinals count rows as the binlog has them');
  });

  void it('ROLLBACK drops the whole transaction; its end is still a resume point', () => {
    const txs = assemble([query('BEGIN', 100), writeRows(QUEUE_LOG, [row('x')]), query('ROLLBACK', 300)]);
    assert.deepEqual(shape(txs), [[false, 0, `${FILE}:300`]]);
  });

  void it('a rollback into rows already handed over in parts fails with a coded error', () => {
    const events = [
      mariadbGtid('0-1-13', 100),
      query('SAVEPOINT s', 0),
      writeRows(QUEUE_LOG, rowsOf('a', 150)),
      writeRows(QUEUE_LOG, rowsOf('b', 10)),
      query('ROLLBACK TO s', 0),
      xid(900),
    ];
    const out: SourceTransaction[] = [];
    const a = new TransactionAssembler({
      from: { file: FILE, pos: 4 },
      watched: new Set(ALL),
      partRows: 100,
      handOver: (tx) => out.push(tx),
    });
    assert.throws(
      () => {
        for (const e of events) a.onEvent(e);
      },
      (err: unknown) => err instanceof BridgeError && err.code === 'UCW_ERR_SOURCE_ROLLBACK_IN_PART' && !err.retryable,
    );
    assert.ok(
      out.every((tx) => tx.partial),
      'only uncommitted parts were handed over',
    );
  });

  void it('a two-phase XA transaction on a watched table fails with a coded error before anything is committed', () => {
    // MariaDB 10.11: XA START..END + PREPARE is one group ending in an XA_PREPARE event.
    const out: SourceTransaction[] = [];
    const a = new TransactionAssembler({
      from: { file: FILE, pos: 4 },
      watched: new Set(ALL),
      partRows: 100,
      handOver: (tx) => out.push(tx),
    });
    for (const e of [
      mariadbGtid('0-1-11', 8213),
      writeRows(QUEUE_LOG, [row('xa1')]),
      query("XA END X'7831',X'',1", 8690),
    ])
      a.onEvent(e);
    assert.throws(
      () => a.onEvent(xaPrepare(8728)),
      (err: unknown) =>
        err instanceof BridgeError &&
        err.code === 'UCW_ERR_SOURCE_XA_UNSUPPORTED' &&
        !err.retryable &&
        err.details?.position === `${FILE}:8728` &&
        err.hint !== undefined,
    );
    assert.deepEqual(out, []);
  });

  void it('XA that touches no watched table, its XA COMMIT, and XA ... ONE PHASE pass', () => {
    const txs = assemble([
      mariadbGtid('0-1-15', 8925),
      query("XA END X'7834',X'',1", 9164),
      xaPrepare(9202),
      mariadbGtid('0-1-16', 9246),
      query("XA COMMIT X'7834',X'',1", 9332),
      // MySQL writes XA COMMIT ... ONE PHASE as XA START ... XA END, then a one-phase XA_PREPARE.
      query("XA START X'7835',X'',1", 9400),
      writeRows(QUEUE_LOG, [row('one')], 9500),
      query("XA END X'7835',X'',1", 9600),
      xaPrepare(9700, true),
    ]);
    assert.deepEqual(shape(txs), [
      [false, 0, `${FILE}:9202`],
      [false, 0, `${FILE}:9332`],
      [false, 1, `${FILE}:9700`],
    ]);
  });

  void it('DDL and other standalone statements stay boundaries', () => {
    const txs = assemble([
      mariadbGtid('0-1-16', 10060),
      query('CREATE TABLE ccrepo.tmp_x (id int primary key)', 10178),
    ]);
    assert.deepEqual(shape(txs), [[false, 0, `${FILE}:10178`]]);
  });
});

void describe('classifyQuery', () => {
  void it('tells boundaries from statements inside a transaction', () => {
    assert.deepEqual(
      [
        'BEGIN',
        'COMMIT',
        'ROLLBACK',
        'SAVEPOINT `s`',
        'savepoint Sp1',
        'ROLLBACK TO `s`',
        'ROLLBACK WORK TO SAVEPOINT `S`',
        'RELEASE SAVEPOINT `s`',
        "XA START X'31',X'',1",
        "XA END X'31',X'',1",
        "XA COMMIT X'31',X'',1",
        "XA ROLLBACK X'31',X'',1",
        'ALTER TABLE t ADD c INT',
        'ROLLBACK TO `a``b`',
      ].map((q) => classifyQuery(q)),
      [
        { kind: 'begin' },
        { kind: 'commit' },
        { kind: 'rollback' },
        { kind: 'savepoint', name: 's' },
        { kind: 'savepoint', name: 'sp1' },
        { kind: 'rollbackTo', name: 's' },
        { kind: 'rollbackTo', name: 's' },
        { kind: 'inside' },
        { kind: 'begin' },
        { kind: 'inside' },
        { kind: 'other' },
        { kind: 'other' },
        { kind: 'other' },
        { kind: 'rollbackTo', name: 'a`b' },
      ],
    );
  });
});
