// One source transaction of 100,000 watched rows: every event is enqueued and delivered, in per-agent
// commit order, without the bridge mistaking its own busy time for a dead stream; and its resident
// memory stays bounded (sampled from /proc every 100 ms).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { Ledger, logsWith, mb, metric, sampleRss, Traffic, whileAlive, Writer } from '../helpers/fault-kit.js';

const ROWS = 100_000;
const AGENTS = 1_000;
const RSS_BOUND_BYTES = 400 * 1024 * 1024;

void describe('faults: large transaction', () => {
  const env = useIntegrationEnv();
  let peakRss: number | undefined;

  void test(
    `one transaction of ${ROWS} rows: all enqueued ` + `once and delivered in per-agent order, no reconnect`,
    async (t) => {
      const { src, rx } = env;
      const ledger = new Ledger('/big');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/big')), setUrl('AgentBreak', rx.urlFor('/big')));
      // Info level: 100,000 debug lines would measure the test's log parsing, not the bridge.
      const bridge = env.startBridge({ stateDir: src.stateDir(), args: ['--log-level', 'info'] });
      await bridge.waitReady();
      const port = bridge.httpPort();
      const rss = sampleRss(bridge);
      t.after(() => rss.stop());
      const idleRss = rss.peak;

      const writer = new Writer(src.db.adminUrl, ledger);
      const rows = new Traffic().rows(ROWS, (i) => `agent${i % AGENTS}`);
      const t0 = Date.now();
      assert.equal(await writer.tx(rows, { statements: 20 }), 'committed');
      await writer.close();
      const committedAt = Date.now();

      await whileAlive(
        bridge,
        waitFor(async () => (await metric(port, 'ucw_events_enqueued_total')) >= ROWS, {
          timeoutMs: 60_000,
          intervalMs: 250,
          message: () => `events not all enqueued; peak RSS ${mb(rss.peak)}`,
        }),
      );
      const enqueuedAt = Date.now();
      const peakWhileEnqueuing = rss.peak;
      await whileAlive(
        bridge,
        waitFor(() => ledger.complete(), {
          timeoutMs: 120_000,
          intervalMs: 250,
          message: () => `${ledger.delivered}/${ROWS} delivered; peak RSS ${mb(rss.peak)}`,
        }),
      );
      const deliveredAt = Date.now();
      rss.stop();
      peakRss = rss.peak;

      const reconnects = await metric(port, 'ucw_source_reconnects_total');
      const reasons = logsWith(bridge, 'source unavailable; reconnecting').map((l) => String(l.error));
      const figures =
        `large-transaction: ${ROWS} rows committed in ${committedAt - t0} ` +
        `ms; all enqueued ${enqueuedAt - committedAt} ms after the commit, ` +
        `all delivered ${deliveredAt - committedAt} ms after ` +
        `(${Math.round(ROWS / ((deliveredAt - enqueuedAt) / 1000))}/s); ` +
        `RSS idle ${mb(idleRss)}, peak ${mb(peakWhileEnqueuing)} until enqueued, ${mb(rss.peak)} ` +
        `overall (${rss.samples} samples, bound ${mb(RSS_BOUND_BYTES)}); ` +
        `source reconnects ${reconnects}${reasons.length ? ` (${reasons.join('; ')})` : ''}`;
      t.diagnostic(figures);
      console.log(figures);

      ledger.assertAllInOrder();
      assert.equal(ledger.duplicates, 0);
      assert.equal(await metric(port, 'ucw_events_enqueued_total'), ROWS, 'enqueued exactly once');
      assert.deepEqual(reasons, [], 'a busy bridge is not a dead stream: no reconnect');
    },
  );

  // A large transaction is handed over in parts and staged in the outbox, so memory is bounded by
  // the part size, not by the transaction.
  void test(`peak RSS of that run < ${mb(RSS_BOUND_BYTES)}`, () => {
    assert.ok(peakRss !== undefined, 'the run above did not finish');
    assert.ok(peakRss < RSS_BOUND_BYTES, `peak RSS ${mb(peakRss)} >= ${mb(RSS_BOUND_BYTES)}`);
  });
});
