// The source server restarts while events stream: the bridge notices (/readyz turns 503 while it is
// down), reconnects by itself from its checkpoint and streams again within 5 s of the server being
// back; the restarted server writes a new binlog file and events committed there arrive too. Nothing
// committed is lost (a writer whose COMMIT got no answer asks the server whether it happened).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { setUrl } from '../helpers/source-fixture.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { Ledger, logsWith, readyz, Traffic, Writer } from '../helpers/fault-kit.js';
import { metric } from '../helpers/metrics-text.js';

const RECONNECT_BUDGET_MS = 5_000;

async function binlogFile(url: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
    return String(rows[0]?.File);
  } finally {
    await conn.end();
  }
}

void describe('faults: source server restart', () => {
  const env = useIntegrationEnv();

  void test(
    'restart mid-stream: 503 while down, streaming ' + 'again within 5 s, new binlog file, nothing lost',
    { skip: privateServerOnly('restarts the database') },
    async (t) => {
      const { src, rx } = env;
      const restart = src.db.restart;
      assert.ok(restart, 'the private MariaDB can restart');
      const ledger = new Ledger('/db');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/db')), setUrl('AgentBreak', rx.urlFor('/db')));
      const bridge = env.startBridge({ stateDir: src.stateDir() });
      await bridge.waitReady();
      const port = bridge.httpPort();

      // Background traffic: small transactions for 20 agents, through the restart.
      const traffic = new Traffic();
      let writing = true;
      let failedTx = 0;
      const writeLoop = async (): Promise<void> => {
        const writer = new Writer(src.db.adminUrl, ledger);
        let i = 0;
        try {
          while (writing) {
            const rows = traffic.rows(1 + (i % 5), (k) => `agent${(i + k) % 20}`);
            if ((await writer.tx(rows)) === 'failed') {
              failedTx++;
              await sleep(50); // the server is down: try again shortly
            }
            i++;
            await sleep(15);
          }
        } finally {
          await writer.close();
        }
      };
      const background = writeLoop();
      background.catch(() => undefined);
      await waitFor(() => ledger.delivered >= 50, {
        message: () => `${ledger.delivered}/50 delivered before the restart`,
      });

      // /readyz, polled all along.
      const polls: Array<{ atMs: number; status: number }> = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          polls.push({ atMs: Date.now(), status: await readyz(port) });
          await sleep(25);
        }
      })();

      const fileBefore = await binlogFile(src.db.adminUrl);
      const downAt = Date.now();
      await restart();
      const backAt = Date.now();
      // The first event written after the server is back, on a fresh connection.
      const marker = traffic.next('marker');
      const markerWriter = new Writer(src.db.adminUrl, ledger);
      assert.equal(await markerWriter.tx([marker]), 'committed');
      await markerWriter.close();
      const markerArrival = await waitFor(() => ledger.arrivalOf(marker.seq), {
        timeoutMs: 20_000,
        message: () => `the first event after the restart never arrived; ${JSON.stringify(bridge.logs.slice(-8))}`,
      });
      const reconnectMs = markerArrival - backAt;
      const readyAgain = await waitFor(() => polls.find((p) => p.atMs > backAt && p.status === 200), {
        timeoutMs: 10_000,
      });

      // More traffic in the new binlog file, then everything must be there.
      const deliveredAfterMarker = ledger.delivered;
      await waitFor(() => ledger.delivered >= deliveredAfterMarker + 50, {
        message: () => `${ledger.delivered - deliveredAfterMarker}/50 after the restart`,
      });
      writing = false;
      await background;
      polling = false;
      await poller;
      await waitFor(() => ledger.complete(), {
        message: () => `${ledger.delivered}/${ledger.committed.length} delivered`,
      });
      ledger.assertAllInOrder();

      const fileAfter = await binlogFile(src.db.adminUrl);
      assert.notEqual(fileAfter, fileBefore, 'the restarted server writes a new binlog file');
      const downPolls = polls.filter((p) => p.atMs >= downAt && p.atMs <= backAt);
      assert.ok(
        downPolls.some((p) => p.status === 503),
        `/readyz answered 503 while the server was down (${downPolls.map((p) => p.status).join(',')})`,
      );
      assert.ok(!polls.some((p) => p.status === 0), '/readyz always answered');
      const outage = logsWith(bridge, 'source unavailable; reconnecting');
      assert.ok(outage.length >= 1, 'the bridge logged the outage');
      assert.ok((await metric(port, 'ucw_source_reconnects_total')) >= 1);
      assert.equal(await metric(port, 'ucw_source_connected'), 1);
      assert.ok(
        reconnectMs <= RECONNECT_BUDGET_MS,
        `streaming again ${reconnectMs} ms after the server was back (budget ${RECONNECT_BUDGET_MS} ms)`,
      );
      assert.equal(bridge.logs.filter((l) => l.level === 'fatal').length, 0);
      assert.equal(ledger.duplicates, 0, 'the bridge process never died: nothing is sent twice');

      const r = ledger.report();
      const figures =
        `db-restart: server down for ${backAt - downAt} ms (${fileBefore} ` +
        `-> ${fileAfter}); first post-restart event arrived ` +
        `${reconnectMs} ms after the server was back; /readyz 503 ` +
        `for ${downPolls.filter((p) => p.status === 503).length} polls, ` +
        `200 again ${readyAgain.atMs - backAt} ms after; ${r.committed} events checked, ${r.duplicates} duplicates, ` +
        `${failedTx} writer transactions refused while down; ${outage.length} reconnect ` +
        `attempts (${[...new Set(outage.map((l) => String(l.code)))].join(', ')})`;
      t.diagnostic(figures);
      console.log(figures);
    },
  );
});
