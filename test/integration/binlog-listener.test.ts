// The listener against a real MariaDB binlog: how transactions are handed over. A large one goes in
// parts (bounded memory), but one of exactly the part size still goes whole, with its commit: a part
// is handed over only when the next rows event of the same transaction arrives.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SourceTransaction } from '../../src/domain/row-change.js';
import { createLogger } from '../../src/logger.js';
import { BinlogListener } from '../../src/source/binlog-listener.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { startSourceFixture, type SourceFixture } from '../helpers/source-fixture.js';
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
    const [status] = (await src.admin.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number }>];
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
      `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, event, data1, data2) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?)').join(',')}`,
      Array.from({ length: n }, (_, i) => ['2026-03-02 14:00:00.000', '', '', `agent${i}`, 'AGENTLOGIN', null, null]).flat(),
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
    for (const part of txs.slice(0, -1)) assert.ok(part.changes.length >= PART_ROWS, `a part of ${part.changes.length} rows`);
    assert.equal(txs.reduce((n, tx) => n + tx.changes.length, 0), rows);
    assert.deepEqual(
      txs.flatMap((tx) => tx.changes.map((c) => c.after?.agent)),
      Array.from({ length: rows }, (_, i) => `agent${i}`),
      'every row once, in order',
    );
  });
});
