// The source supervisor against a real MariaDB: how it reconnects when the server drops the binlog
// connection (KILL of the dump thread), with an injected clock for the healthy-stream period.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import { SourceDb } from '../../src/source/source-db.js';
import { SourceSupervisor, type SupervisorOptions } from '../../src/source/supervisor.js';
import { startSourceFixture, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

type Line = Record<string, unknown> & { msg: string };

void describe('SourceSupervisor', () => {
  let src: SourceFixture;
  let db: SourceDb;
  before(async () => {
    src = await startSourceFixture();
    db = new SourceDb(parseMysqlUrl(src.db.bridgeUrl));
  });
  after(async () => {
    await db.close();
    await src.close();
  });

  const start = (
    over: Partial<SupervisorOptions> = {},
  ): { sup: SourceSupervisor; lines: Line[]; fatal: BridgeError[] } => {
    const lines: Line[] = [];
    const fatal: BridgeError[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line);
        cb();
      },
    });
    const sup = new SourceSupervisor({
      conn: db.conn,
      db,
      serverId: 91_002,
      tables: ['ccrepo.queue_log_repo'],
      heartbeatSeconds: 1,
      maxQueuedRows: 1000,
      reconnectMinMs: 50,
      reconnectMaxMs: 10_000,
      prepare: () => db.binlogEnd(),
      handler: () => Promise.resolve(),
      onFatal: (err) => fatal.push(err),
      logger: createLogger('info', sink),
      metrics: new Metrics(),
      ...over,
    });
    sup.start();
    return { sup, lines, fatal };
  };

  /** KILLs the bridge's binlog dump thread, as a server restart or a DBA would. */
  const killDump = async (): Promise<void> => {
    const id = await waitFor(
      async () => {
        const [rows] = (await src.admin.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
        )) as unknown as [Array<{ ID: number }>];
        return rows[0]?.ID;
      },
      { message: 'no binlog dump thread' },
    );
    await src.admin.query(`KILL ${id}`);
  };

  void it('starts the reconnect backoff over once a stream stayed open for the healthy period', async () => {
    let now = 1_772_460_000_000;
    const { sup, lines } = start({ now: () => now });
    const reconnects = (): Line[] => lines.filter((l) => l.msg === 'source unavailable; reconnecting');
    try {
      for (let outage = 1; outage <= 3; outage++) {
        await waitFor(() => sup.connected, { message: `not connected before outage ${outage}` });
        if (outage === 3) now += 12_000; // 12 heartbeat periods of healthy streaming
        await killDump();
        await waitFor(() => reconnects().length === outage, { message: `outage ${outage} not seen` });
        await waitFor(() => sup.connected, { message: `not reconnected after outage ${outage}` });
      }
      assert.deepEqual(
        reconnects().map((l) => [l.failures, l.retryInMs]),
        [
          [1, 50],
          [2, 100],
          [1, 50],
        ],
      );
    } finally {
      await sup.stop();
    }
  });
});
