// A held URL (paused after 410 Gone, or failing) must never stall the others: its backlog goes to the
// outbox, bounded by --max-outbox-bytes, while --max-outbox-pending throttles only on what can drain.
// And a registration removed (url cleared) cancels its pending deliveries: kept in the store with
// status cancelled, counted in a metric, never sent, also once the URL is registered again.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { startReceiver } from '../../demo/receiver.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { metric } from '../helpers/metrics-text.js';
import { agentOf } from '../helpers/bodies.js';

const BASE_MS = Date.UTC(2026, 2, 3, 0, 0, 0);
/** One PAUSE row (an AgentBreak event) per number; its time makes each body unique. */
const pauses = (from: number, n: number, agents: number): string =>
  `INSERT INTO ccrepo.queue_log_repo (time, agent, event, data1) VALUES ${Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const time = new Date(BASE_MS + seq * 1000).toISOString().slice(0, 19).replace('T', ' ');
    return `('${time}.000', 'held-${seq % agents}', 'PAUSE', 'm${seq}')`;
  }).join(', ')}`;

void describe('held URLs', () => {
  const env = useIntegrationEnv();

  void test(
    'a 410 URL and a 500 URL do not stall a healthy one: ' + 'it gets every event with a small --max-outbox-pending',
    async (t) => {
      const { src, rx } = env;
      await src.reset();
      rx.clear();
      const gone = await startReceiver(() => ({ status: 410 }));
      const failing = await startReceiver(() => ({ status: 500 }));
      t.after(() => gone.close());
      t.after(() => failing.close());
      const healthy = new Set<string>();
      rx.setResponder((req) => {
        healthy.add(req.body);
        return { status: 200 };
      });
      await src.tx(setUrl('AgentBreak', rx.urlFor('/healthy')), [
        'INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?), (?, ?, ?)',
        ['held-gone', 'AgentBreak', gone.urlFor('/gone'), 'held-failing', 'AgentBreak', failing.urlFor('/failing')],
      ]);
      const bridge = env.startBridge({ args: ['--max-outbox-pending', '200', '--gone-pause-ms', '600000'] });
      await bridge.waitReady();
      const port = bridge.httpPort();

      const EVENTS = 3_000;
      for (let i = 0; i < EVENTS; i += 100) await src.tx(pauses(i, 100, 50));
      await waitFor(() => healthy.size === EVENTS, {
        timeoutMs: 60_000,
        message: () => `the healthy URL got ${healthy.size}/${EVENTS} events`,
      });
      assert.equal(await metric(port, 'ucw_urls_paused'), 1);
      assert.equal(await metric(port, 'ucw_urls_failing'), 1);
      assert.equal(await metric(port, 'ucw_source_paused'), 0);
      // The held URLs' backlogs wait in the outbox: every event for each, none dropped.
      assert.equal(await metric(port, 'ucw_outbox_pending'), 2 * EVENTS);
      assert.ok((await metric(port, 'ucw_outbox_bytes')) > 0, 'ucw_outbox_bytes not reported');
      assert.equal(await bridge.stop(), 0);
    },
  );

  void test(
    'the backlog of a held URL is bounded by --max-outbox-bytes: ' + 'reading pauses with UCW_WARN_OUTBOX_DISK_FULL',
    async (t) => {
      const { src, rx } = env;
      await src.reset();
      rx.clear();
      const failing = await startReceiver(() => ({ status: 500 }));
      t.after(() => failing.close());
      await src.tx(setUrl('AgentBreak', failing.urlFor('/failing')));
      const MAX_BYTES = 1_048_576;
      const bridge = env.startBridge({ args: ['--max-outbox-bytes', String(MAX_BYTES)] });
      await bridge.waitReady();
      const port = bridge.httpPort();
      const full = (): boolean => bridge.logs.some((l) => l.code === 'UCW_WARN_OUTBOX_DISK_FULL');
      let sent = 0;
      while (!full() && sent < 40_000) {
        await src.tx(pauses(100_000 + sent, 500, 50));
        sent += 500;
      }
      await bridge.waitForLog((l) => l.code === 'UCW_WARN_OUTBOX_DISK_FULL', 'disk budget warning');
      await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 1, {
        message: 'ucw_source_paused never 1',
      });
      const bytes = await metric(port, 'ucw_outbox_bytes');
      assert.ok(bytes >= MAX_BYTES && bytes < 3 * MAX_BYTES, `ucw_outbox_bytes ${bytes}`);
      // Reading waits: what was committed after the pause is not in the outbox (nothing dropped: the binlog keeps it).
      const pending = await metric(port, 'ucw_outbox_pending');
      await src.tx(pauses(200_000, 500, 50));
      await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 1, {
        message: 'reading resumed over the budget',
      });
      assert.equal(await metric(port, 'ucw_outbox_pending'), pending);
      assert.equal(await bridge.stop(), 0);
    },
  );

  void test(
    'clearing a registration cancels its pending deliveries ' +
      '(kept, counted); registering again does not resurrect them',
    async (t) => {
      const { src, rx } = env;
      await src.reset();
      rx.clear();
      let up = false;
      const got: string[] = [];
      const down = await startReceiver((req) => {
        if (!up) return { status: 503 };
        got.push(req.body);
        return { status: 200 };
      });
      t.after(() => down.close());
      const url = down.urlFor('/down');
      await src.tx(setUrl('AgentLog', url), setUrl('AgentBreak', rx.urlFor('/marker')));
      const stateDir = src.stateDir();
      const bridge = env.startBridge({ stateDir, args: ['--retry-base-ms', '200', '--retry-max-ms', '1000'] });
      await bridge.waitReady();
      const port = bridge.httpPort();
      const login = (agent: string, second: number): [string, unknown[]] =>
        queueLog({ time: `2026-03-04 10:00:${String(second).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent });

      for (let i = 0; i < 20; i++) await src.tx(login(`c${i}`, i));
      await waitFor(async () => (await metric(port, 'ucw_outbox_pending')) === 20, {
        message: 'the 20 deliveries are not pending',
      });
      await waitFor(() => down.requests.length >= 5, { message: 'the receiver was not tried' });

      // The row's url is cleared: the 20 are cancelled, in the same transaction as one more event (not routed).
      await src.tx(setUrl('AgentLog', null), login('after-clear', 30));
      await bridge.waitForLog((l) => l.code === 'UCW_WARN_DELIVERY_CANCELLED', 'cancellation log');
      await waitFor(async () => (await metric(port, 'ucw_deliveries_cancelled_total')) === 20, {
        message: 'ucw_deliveries_cancelled_total is not 20',
      });
      assert.equal(await metric(port, 'ucw_outbox_pending'), 0);
      const store = new Database(join(stateDir, 'outbox.sqlite'), { readonly: true });
      t.after(() => store.close());
      const byStatus = (status: number): number =>
        store
          .prepare('SELECT COUNT(*) FROM deliveries WHERE url = ? AND status = ?')
          .pluck()
          .get(url, status) as number;
      await waitFor(() => byStatus(4) === 20, { message: () => `${byStatus(4)} cancelled in the store` });
      assert.equal(byStatus(0), 0);
      assert.equal(
        bridge.logs.filter((l) => l.code === 'UCW_WARN_DELIVERY_CANCELLED').length,
        1,
        'logged once for the URL',
      );

      // Registered again, the receiver back: only events committed after that reach it.
      up = true;
      await src.tx(setUrl('AgentLog', url));
      await src.tx(login('new-1', 40), login('new-2', 41));
      await src.tx(queueLog({ time: '2026-03-04 10:01:00.000', event: 'PAUSE', agent: 'marker', data1: 'done' }));
      await waitFor(() => got.length === 2 && rx.requests.some((r) => r.path === '/marker'), {
        message: () => `${got.length} delivered after re-registering`,
      });
      assert.deepEqual(
        got.map((b) => agentOf(b)),
        ['new-1', 'new-2'],
      );
      assert.equal(byStatus(4), 20, 'the cancelled deliveries stay cancelled');
      assert.equal(await bridge.stop(), 0);
    },
  );
});
