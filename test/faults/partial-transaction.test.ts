// A large transaction is read in parts that are staged in the outbox, invisible to delivery, until its
// commit is read. Killing the bridge while parts are staged must neither deliver any part early nor
// lose or duplicate anything after the restart.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DeliveryStatus } from '../../src/outbox/records.js';
import { OUTBOX_FILE } from '../../src/outbox/state-store.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { Ledger, Traffic, Writer } from '../helpers/fault-kit.js';
import { metric } from '../helpers/metrics-text.js';

const ROWS = 20_000;
// --max-queued-rows 400 makes parts of 100 rows: the transaction arrives in about 200 parts.
const ARGS = ['--log-level', 'info', '--max-queued-rows', '400'];

void describe('faults: SIGKILL while a large transaction is staged in parts', () => {
  const env = useIntegrationEnv();

  void test(
    `${ROWS} rows in one transaction, killed mid-way: ` + `nothing early, nothing lost, nothing twice`,
    async (t) => {
      const { src, rx } = env;
      const ledger = new Ledger('/parts');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/parts')), setUrl('AgentBreak', rx.urlFor('/parts')));
      const stateDir = src.stateDir();
      const first = env.startBridge({ stateDir, args: ARGS });
      await first.waitReady();

      const writer = new Writer(src.db.adminUrl, ledger);
      assert.equal(
        await writer.tx(
          new Traffic().rows(ROWS, (i) => `agent${i % 200}`),
          { statements: 10 },
        ),
        'committed',
      );
      await writer.close();

      // Kill once some parts are staged but before the commit is read: stored, not yet deliverable. The
      // store is watched on a read-only connection of this process: a scrape of the bridge's metrics is
      // answered between its parts, and under load one answer came only after all 20,000 rows.
      const store = new Database(join(stateDir, OUTBOX_FILE), { readonly: true, fileMustExist: true });
      const staged = store.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.staged}`).pluck();
      await waitFor(() => ((staged.get() as number) >= 1_000 ? true : undefined), {
        intervalMs: 5,
        message: 'no part was staged',
      });
      assert.equal(await first.kill(), null);
      const seen = staged.get() as number;
      store.close();
      assert.ok(seen > 0, 'the transaction was committed before the kill: the test did not hit a staged state');
      assert.equal(rx.requests.length, 0, 'a part of an uncommitted transaction was delivered');

      const second = env.startBridge({ stateDir, args: ARGS });
      await waitFor(() => ledger.delivered === ROWS, {
        message: () => `${ledger.delivered}/${ROWS} delivered after restart`,
        timeoutMs: 60_000,
      });
      t.diagnostic(
        `killed with ${seen} of ${ROWS} deliveries staged; after ` +
          `restart ${ledger.delivered} delivered, ${ledger.duplicates} duplicates`,
      );
      ledger.assertAllInOrder();
      assert.equal(ledger.duplicates, 0, 'nothing was delivered twice');
      assert.equal(
        await metric(second.httpPort(), 'ucw_events_enqueued_total'),
        ROWS,
        'enqueued exactly once after the restart',
      );
    },
  );
});
