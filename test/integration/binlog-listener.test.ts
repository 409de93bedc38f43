// The listener against a real MariaDB binlog: how transactions are handed over. A large one goes in
// parts (bounded memory), but one of exactly the part size still goes whole, with its commit: a part
// is handed over only when the next rows event of the same transaction arrives.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SourceTransaction } from '../../src/domain/row-change.js';
import type { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { BinlogListener } from '../../src/source/binlog-listener.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { BINLOG_STATUS_SQL, startSourceFixture, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

/** maxQueuedRows 400 gives parts of 100 rows. */
const MAX_QUEUED_ROWS = 400;
const PART_ROWS = 100;

void describe('BinlogListener: transactions in parts', () => {
  let src: SourceFixture;
  before(async () => {
    src = await startSourceFixture();
  });
  after(async () => {
    await src.close();
  });

  /** Streams from the current end while `write` runs; returns the transactions handed over. */
  const handedOver = async (write: () => Promise<void>, rows: number): Promise<SourceTransaction[]> => {
    const [status] = (await src.admin.query(BINLOG_STATUS_SQL)) as unknown as [
      Array<{ File: string; Position: number }>,
    ];
    const got: SourceTransaction[] = [];
    const listener = new BinlogListener({
      conn: parseMysqlUrl(src.db.bridgeUrl),
      serverId: 91_001,
      tables: ['ccrepo.queue_log_repo'],
      from: { file: status[0]!.File, pos: Number(status[0]!.Position) },
      heartbeatSeconds: 5,
      maxQueuedRows: MAX_QUEUED_ROWS,
      handler: (tx) => {
        got.push(tx);
        return Promise.resolve();
      },
      logger: createLogger('silent'),
    });
    const ready = new Promise((resolve) => listener.once('ready', resolve));
    listener.start();
    await ready;
    try {
      await write();
      await waitFor(() => got.reduce((n, tx) => n + tx.changes.length, 0) >= rows && got.at(-1)?.partial === false, {
        timeoutMs: 10_000,
        message: () => `${got.length} parts so far`,
      });
    } finally {
      await listener.stop();
    }
    return got;
  };
  /** One multi-row INSERT of `n` queue_log rows (the server splits it into rows events of ~8 KB). */
  const insertRows = (n: number): Promise<void> =>
    src.tx([
      `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, event, data1, ` +
        `data2) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?)').join(',')}`,
      Array.from({ length: n }, (_, i) => [
        '2026-03-02 14:00:00.000',
        '',
        '',
        `agent${i}`,
        'AGENTLOGIN',
        null,
        null,
      ]).flat(),
    ]);

  void it(`a transaction of exactly ${PART_ROWS} rows is handed over whole, with its commit`, async () => {
    const txs = await handedOver(() => insertRows(PART_ROWS), PART_ROWS);
    assert.deepEqual(
      txs.map((tx) => [tx.partial, tx.changes.length]),
      [[false, PART_ROWS]],
    );
  });

  void it('a larger one goes in parts of at least the part size; only the last carries the commit', async () => {
    const rows = 5 * PART_ROWS + 7;
    const txs = await handedOver(() => insertRows(rows), rows);
    assert.ok(txs.length >= 2, `${txs.length} parts`);
    assert.deepEqual(
      txs.map((tx) => tx.partial),
      [...Array.from({ length: txs.length - 1 }, () => true), false],
    );
    for (const part of txs.slice(0, -1))
      assert.ok(part.changes.length >= PART_ROWS, `a part of ${part.changes.length} rows`);
    assert.equal(
      txs.reduce((n, tx) => n + tx.changes.length, 0),
      rows,
    );
    assert.deepEqual(
      txs.flatMap((tx) => tx.changes.map((c) => c.after?.agent)),
      Array.from({ length: rows }, (_, i) => `agent${i}`),
      'every row once, in order',
    );
  });
});

void describe('BinlogListener: savepoints, rollbacks and XA on the real server', () => {
  let src: SourceFixture;
  before(async () => {
    src = await startSourceFixture();
    await src.admin.query('CREATE TABLE ccrepo.scratch_myisam (id INT PRIMARY KEY AUTO_INCREMENT) ENGINE=MyISAM');
    await src.admin.query('CREATE TABLE ccrepo.scratch_innodb (id INT PRIMARY KEY AUTO_INCREMENT) ENGINE=InnoDB');
  });
  after(async () => {
    await src.close();
  });

  interface Seen {
    readonly txs: SourceTransaction[];
    readonly errors: BridgeError[];
    /** The binlog end after `write` (what the last commit's resume point must be). */
    readonly end: string;
  }

  /**
   * Streams from the current end while `statements` run one by one on one connection, then until a
   * marker transaction (one queue_log row, agent 'marker') is handed over or the listener fails.
   */
  const run = async (statements: string[]): Promise<Seen> => {
    const [status] = (await src.admin.query(BINLOG_STATUS_SQL)) as unknown as [
      Array<{ File: string; Position: number }>,
    ];
    const txs: SourceTransaction[] = [];
    const errors: BridgeError[] = [];
    const listener = new BinlogListener({
      conn: parseMysqlUrl(src.db.bridgeUrl),
      serverId: 91_003,
      tables: ['ccrepo.queue_log_repo'],
      from: { file: status[0]!.File, pos: Number(status[0]!.Position) },
      heartbeatSeconds: 5,
      maxQueuedRows: MAX_QUEUED_ROWS,
      handler: (tx) => {
        txs.push(tx);
        return Promise.resolve();
      },
      logger: createLogger('silent'),
    });
    listener.on('error', (err: BridgeError) => errors.push(err));
    const ready = new Promise((resolve) => listener.once('ready', resolve));
    listener.start();
    await ready;
    let end: string;
    try {
      for (const sql of statements) await src.admin.query(sql);
      const [after] = (await src.admin.query(BINLOG_STATUS_SQL)) as unknown as [
        Array<{ File: string; Position: number }>,
      ];
      end = `${after[0]!.File}:${after[0]!.Position}`;
      await src.admin.query(insertOne('marker'));
      await waitFor(() => errors.length > 0 || txs.some((tx) => tx.changes.some((c) => c.after?.agent === 'marker')), {
        timeoutMs: 10_000,
        message: () => `${txs.length} transactions so far`,
      });
    } finally {
      await listener.stop();
    }
    return { txs: txs.filter((tx) => !tx.changes.some((c) => c.after?.agent === 'marker')), errors, end };
  };
  const insertOne = (agent: string): string =>
    `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, event) ` +
    `VALUES ('2026-03-02 14:00:00.000', '', '', '${agent}', 'AGENTLOGIN')`;
  /** Hand-overs that carry rows, as [partial, agents, resume point]. */
  const withRows = (s: Seen): Array<[boolean, string[], string]> =>
    s.txs
      .filter((tx) => tx.changes.length > 0)
      .map((tx) => [tx.partial, tx.changes.map((c) => String(c.after?.agent)), `${tx.commit.file}:${tx.commit.pos}`]);

  void it(
    'SAVEPOINT / ROLLBACK TO SAVEPOINT: one transaction, ' +
      'handed over once at its commit, without the rolled-back row',
    async () => {
      const s = await run([
        'BEGIN',
        insertOne('sp1'),
        'SAVEPOINT s',
        insertOne('sp2'),
        'ROLLBACK TO SAVEPOINT s',
        insertOne('sp3'),
        'COMMIT',
      ]);
      assert.deepEqual(s.errors, []);
      assert.deepEqual(withRows(s), [[false, ['sp1', 'sp3'], s.end]]);
      assert.deepEqual(
        s.txs.map((tx) => `${tx.commit.file}:${tx.commit.pos}`),
        [s.end],
        'no resume point inside the transaction',
      );
    },
  );

  void it(
    'with a non-transactional table in it, the rows rolled ' +
      'back to the savepoint are in the binlog and not handed over',
    async () => {
      const s = await run([
        'BEGIN',
        insertOne('m1'),
        'SAVEPOINT s',
        insertOne('m2'),
        'INSERT INTO ccrepo.scratch_myisam VALUES ()',
        insertOne('m3'),
        'ROLLBACK TO SAVEPOINT s',
        insertOne('m4'),
        'COMMIT',
      ]);
      assert.deepEqual(s.errors, []);
      assert.deepEqual(withRows(s), [[false, ['m1', 'm4'], s.end]]);
    },
  );

  for (const outcome of ['COMMIT', 'ROLLBACK']) {
    void it(
      `XA PREPARE then XA ${outcome} on a watched table: ` + `a fatal coded error, its rows never handed over`,
      async () => {
        const s = await run([
          `XA START 'x${outcome}'`,
          insertOne('xa1'),
          `XA END 'x${outcome}'`,
          `XA PREPARE 'x${outcome}'`,
          `XA ${outcome} 'x${outcome}'`,
        ]);
        assert.deepEqual(
          s.errors.map((e) => [e.code, e.retryable]),
          [['UCW_ERR_SOURCE_XA_UNSUPPORTED', false]],
        );
        assert.match(s.errors[0]!.message, /XA PREPARE at binlog \S+:\d+/);
        assert.deepEqual(withRows(s), []);
      },
    );
  }

  void it('XA on a table that is not watched does not stop the stream', async () => {
    const s = await run([
      "XA START 'xo'",
      'INSERT INTO ccrepo.scratch_innodb VALUES ()',
      "XA END 'xo'",
      "XA PREPARE 'xo'",
      "XA COMMIT 'xo'",
      insertOne('after'),
    ]);
    assert.deepEqual(s.errors, []);
    assert.deepEqual(
      withRows(s).map(([partial, agents]) => [partial, agents]),
      [[false, ['after']]],
    );
  });
});
