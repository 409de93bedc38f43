// One source transaction of 100,000 watched rows: every event is enqueued and delivered, in per-agent
// commit order, without the bridge mistaking its own busy time for a dead stream; and its memory is
// bounded by the part size, not the transaction: the resident memory it adds over idle (sampled from
// /proc every 100 ms) is about the same for 100,000 rows as for 20,000.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { Ledger, logsWith, mb, sampleRss, Traffic, whileAlive, Writer } from '../helpers/fault-kit.js';
import { metric, metricIn, scrape } from '../helpers/metrics-text.js';
import type { BridgeProcess } from '../helpers/bridge-process.js';

const SMALL_ROWS = 20_000;
const ROWS = 100_000;
const AGENTS = 1_000;
/**
 * Growth over idle for 100,000 rows may pass that for 20,000 by this factor and slack (GC timing):
 * memory that grew with the transaction would grow about 5 times.
 */
const GROWTH_FACTOR = 2;
const GROWTH_SLACK_BYTES = 48 * 1024 * 1024;

interface Phase {
  readonly growth: number;
  readonly figures: string;
}

/** Writes one transaction of `rows` rows, waits until all are delivered; the RSS it added over idle. */
async function bigTransaction(
  bridge: BridgeProcess,
  adminUrl: string,
  ledger: Ledger,
  traffic: Traffic,
  rows: number,
  idleRss: number,
): Promise<Phase> {
  const port = bridge.httpPort();
  // A labelled counter has no sample before its first event.
  const enqueuedBefore = metricIn(await scrape(port), 'ucw_events_enqueued_total') ?? 0;
  const rss = sampleRss(bridge);
  try {
    const writer = new Writer(adminUrl, ledger);
    const t0 = Date.now();
    assert.equal(
      await writer.tx(
        traffic.rows(rows, (i) => `agent${i % AGENTS}`),
        { statements: 20 },
      ),
      'committed',
    );
    await writer.close();
    const committedAt = Date.now();
    await whileAlive(
      bridge,
      waitFor(async () => (await metric(port, 'ucw_events_enqueued_total')) - enqueuedBefore >= rows, {
        timeoutMs: 60_000,
        intervalMs: 250,
        message: () => `events not all enqueued; peak RSS ${mb(rss.peak)}`,
      }),
    );
    const enqueuedAt = Date.now();
    await whileAlive(
      bridge,
      waitFor(() => ledger.complete(), {
        timeoutMs: 120_000,
        intervalMs: 250,
        message: () => `${ledger.delivered}/${ledger.committed.length} delivered; peak RSS ${mb(rss.peak)}`,
      }),
    );
    const deliveredAt = Date.now();
    assert.equal(await metric(port, 'ucw_events_enqueued_total'), enqueuedBefore + rows, 'enqueued exactly once');
    const figures =
      `${rows} rows committed in ${committedAt - t0} ms; all enqueued ${enqueuedAt - committedAt} ms after ` +
      `the commit, all delivered ${deliveredAt - committedAt} ms after ` +
      `(${Math.round(rows / ((deliveredAt - enqueuedAt) / 1000))}/s); peak RSS ${mb(rss.peak)}, ` +
      `${mb(rss.peak - idleRss)} over idle (${rss.samples} samples)`;
    return { growth: rss.peak - idleRss, figures };
  } finally {
    rss.stop();
  }
}

void describe('faults: large transaction', () => {
  const env = useIntegrationEnv();

  void test(
    `one transaction of ${ROWS} rows: all enqueued once and delivered in per-agent order, no reconnect; ` +
      `the memory it adds over idle is about that of ${SMALL_ROWS} rows`,
    async (t) => {
      const { src, rx } = env;
      const ledger = new Ledger('/big');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/big')), setUrl('AgentBreak', rx.urlFor('/big')));
      // Info level: 100,000 debug lines would measure the test's log parsing, not the bridge.
      const bridge = env.startBridge({ stateDir: src.stateDir(), args: ['--log-level', 'info'] });
      await bridge.waitReady();
      const idle = sampleRss(bridge);
      idle.stop();
      const idleRss = idle.peak;
      const traffic = new Traffic();

      const small = await bigTransaction(bridge, src.db.adminUrl, ledger, traffic, SMALL_ROWS, idleRss);
      const large = await bigTransaction(bridge, src.db.adminUrl, ledger, traffic, ROWS, idleRss);

      const reconnects = await metric(bridge.httpPort(), 'ucw_source_reconnects_total');
      const reasons = logsWith(bridge, 'source unavailable; reconnecting').map((l) => String(l.error));
      const figures =
        `large-transaction: RSS idle ${mb(idleRss)}; ${small.figures}; ${large.figures}; ` +
        `source reconnects ${reconnects}${reasons.length ? ` (${reasons.join('; ')})` : ''}`;
      t.diagnostic(figures);
      console.log(figures);

      ledger.assertAllInOrder();
      assert.equal(ledger.duplicates, 0);
      assert.deepEqual(reasons, [], 'a busy bridge is not a dead stream: no reconnect');
      // Bounded by the part size: five times the rows must not take about five times the memory.
      const bound = GROWTH_FACTOR * Math.max(small.growth, 0) + GROWTH_SLACK_BYTES;
      assert.ok(
        large.growth <= bound,
        `${ROWS} rows grew RSS by ${mb(large.growth)} over idle, ${SMALL_ROWS} rows by ${mb(small.growth)}: ` +
          `more than ${GROWTH_FACTOR}x + ${mb(GROWTH_SLACK_BYTES)} (${mb(bound)})`,
      );
    },
  );
});
