// Binlog rotation: FLUSH BINARY LOGS several times while events stream (twice back to back, leaving
// an empty file), then more rotations while the bridge is stopped. Every event arrives exactly once,
// the checkpoint follows the stream into each new file, and a restarted bridge resumes in the newest
// file it reached and reads across the files written while it was down.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { BINLOG_STATUS_SQL, setUrl } from '../helpers/source-fixture.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { Ledger, Traffic, Writer } from '../helpers/fault-kit.js';

const LIVE_ROTATIONS = 5;

async function masterFile(admin: Connection): Promise<string> {
  const [rows] = await admin.query<RowDataPacket[]>(BINLOG_STATUS_SQL);
  return String(rows[0]?.File);
}

/** Binlog file of the position in the bridge's "state loaded; streaming from checkpoint" line. */
async function resumedIn(bridge: BridgeProcess): Promise<string> {
  const line = await bridge.waitForLog((l) => l.msg === 'state loaded; streaming from checkpoint', 'state loaded');
  return String(line.position).split(':')[0]!;
}

void describe('faults: binlog rotation', () => {
  const env = useIntegrationEnv();

  void test(
    'FLUSH BINARY LOGS mid-stream and while stopped: none ' +
      'lost, none duplicated, checkpoint resumes in the new file',
    async (t) => {
      const { src, rx } = env;
      const ledger = new Ledger('/rot');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/rot')), setUrl('AgentBreak', rx.urlFor('/rot')));
      const admin = await mysql.createConnection({ uri: src.db.adminUrl });
      t.after(() => admin.end());
      const stateDir = src.stateDir();
      let bridge = env.startBridge({ stateDir });
      await bridge.waitReady();
      const firstFile = await masterFile(admin);

      // Live: a writer streams small transactions for 30 agents while the binlog is rotated.
      const traffic = new Traffic();
      const writer = new Writer(src.db.adminUrl, ledger);
      t.after(() => writer.close());
      let writing = true;
      const background = (async () => {
        for (let i = 0; writing; i++) {
          assert.equal(await writer.tx(traffic.rows(1 + (i % 20), (k) => `agent${(i * 7 + k) % 30}`)), 'committed');
          await sleep(10);
        }
      })();
      background.catch(() => undefined);
      const files = [firstFile];
      for (let k = 0; k < LIVE_ROTATIONS; k++) {
        const target = ledger.delivered + 40;
        await waitFor(() => ledger.delivered >= target, {
          message: () => `stream stalled after rotation ${k}: ${ledger.delivered}/${target}`,
        });
        await admin.query('FLUSH BINARY LOGS');
        // Twice in a row once: a file with no transaction in it.
        if (k === 2) await admin.query('FLUSH BINARY LOGS');
        files.push(await masterFile(admin));
      }
      const afterLast = ledger.delivered + 40;
      await waitFor(() => ledger.delivered >= afterLast, { message: 'no event after the last rotation' });
      writing = false;
      await background;
      await waitFor(() => ledger.complete(), {
        message: () => `${ledger.delivered}/${ledger.committed.length} delivered live`,
      });
      const liveEvents = ledger.committed.length;
      const lastLiveFile = await masterFile(admin);
      assert.equal(await bridge.stop(), 0);

      // Stopped: rotations with events between and after them.
      await admin.query('FLUSH BINARY LOGS');
      assert.equal(await writer.tx(traffic.rows(20, (k) => `agent${k}`)), 'committed');
      await admin.query('FLUSH BINARY LOGS');
      await admin.query('FLUSH BINARY LOGS');
      assert.equal(await writer.tx(traffic.rows(20, (k) => `agent${k + 10}`)), 'committed');
      const fileWhileDown = await masterFile(admin);

      bridge = env.startBridge({ stateDir });
      assert.equal(
        await resumedIn(bridge),
        lastLiveFile,
        'the checkpoint followed the live stream into the newest file',
      );
      await waitFor(() => ledger.complete(), {
        message: () => `${ledger.delivered}/${ledger.committed.length} delivered after restart`,
      });
      await bridge.waitReady();
      assert.equal(await writer.tx(traffic.rows(10, (k) => `agent${k}`)), 'committed');
      await waitFor(() => ledger.complete(), { message: 'live event after the restart' });
      assert.equal(await bridge.stop(), 0);

      bridge = env.startBridge({ stateDir });
      assert.equal(
        await resumedIn(bridge),
        fileWhileDown,
        'the checkpoint crossed the files written while the bridge was down',
      );
      await bridge.waitReady();
      assert.equal(await writer.tx(traffic.rows(10, (k) => `agent${k + 20}`)), 'committed');
      await waitFor(() => ledger.complete(), { message: 'live event after the second restart' });

      ledger.assertAllInOrder();
      assert.equal(ledger.duplicates, 0, 'no event delivered twice');
      assert.equal(rx.requests.length, ledger.committed.length, 'one request per event');
      assert.ok(
        new Set(files).size === files.length && files.length === LIVE_ROTATIONS + 1,
        `files: ${files.join(', ')}`,
      );
      const figures =
        `rotation: ${LIVE_ROTATIONS + 1} FLUSH BINARY LOGS mid-stream (${firstFile} ` +
        `-> ${lastLiveFile}, one file left empty), 3 while stopped (-> ${fileWhileDown}); ` +
        `${ledger.committed.length} events (${liveEvents} live) delivered exactly once`;
      t.diagnostic(figures);
      console.log(figures);
    },
  );
});
