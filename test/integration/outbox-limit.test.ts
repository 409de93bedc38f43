// Past --max-outbox-pending deliveries that can drain (a slow receiver's, not a held one's) the
// bridge pauses reading the binlog (never drops), says so in logs and metrics, and resumes when
// deliveries drain; a SIGTERM while paused still stops cleanly.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { metric } from '../helpers/metrics-text.js';

/** A receiver that holds every answer until release(): nothing drains, and its URL never fails. */
async function startHoldingReceiver(): Promise<{
  url: string;
  bodies: Set<string>;
  release(): void;
  close(): Promise<void>;
}> {
  const held: http.ServerResponse[] = [];
  const bodies = new Set<string>();
  let open = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.add(body);
      if (open) res.writeHead(200).end();
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/held`,
    bodies,
    release() {
      open = true;
      for (const res of held.splice(0)) res.writeHead(200).end();
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const LIMIT = 20;
const ROWS = 60;

void describe('outbox growth limit', () => {
  const env = useIntegrationEnv();

  void test('reading pauses exactly at the limit and reads nothing more; nothing is dropped; it resumes', async (t) => {
    const { src } = env;
    const rx = await startHoldingReceiver();
    t.after(() => rx.close());
    await src.tx(setUrl('AgentLog', rx.url));
    const bridge = env.startBridge({
      args: [
        ...['--max-outbox-pending', String(LIMIT), '--max-queued-rows', '100', '--concurrency-per-url', '1'],
        // Held answers must not time out: a timed-out URL would turn failing and stop counting.
        ...['--request-timeout-ms', '200000'],
      ],
    });
    await bridge.waitReady();
    const port = bridge.httpPort();

    for (let i = 0; i < ROWS; i++)
      await src.tx(
        queueLog({ time: `2026-03-02 10:00:${String(i).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent: `a${i}` }),
      );
    await bridge.waitForLog((l) => l.code === 'UCW_WARN_OUTBOX_FULL', 'outbox full warning');
    await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 1, {
      message: 'ucw_source_paused never 1',
    });
    // One delivery a transaction, none drained: the limit is reached exactly, never passed.
    assert.equal(await metric(port, 'ucw_outbox_pending'), LIMIT);
    assert.equal(await metric(port, 'ucw_events_enqueued_total'), LIMIT);
    assert.equal(await metric(port, 'ucw_source_row_changes_total'), LIMIT);
    // Reading stopped: over ten of the bridge's own 100 ms checks, not one more row change is read.
    for (let i = 0; i < 10; i++) {
      await sleep(100);
      assert.equal(await metric(port, 'ucw_source_row_changes_total'), LIMIT, 'rows read while paused');
      assert.equal(await metric(port, 'ucw_source_paused'), 1);
    }

    rx.release();
    await waitFor(() => rx.bodies.size === ROWS, {
      message: () => `${rx.bodies.size}/${ROWS} delivered after draining`,
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 0, {
      message: 'ucw_source_paused stayed 1',
    });
    assert.equal(await metric(port, 'ucw_source_row_changes_total'), ROWS);
    assert.ok(bridge.logs.some((l) => l.msg === 'outbox below its limit: binlog reading resumed'));
    assert.equal(await bridge.stop(), 0);
  });

  void test('SIGTERM while reading is paused stops cleanly', async () => {
    const { src, rx } = env;
    rx.setResponder(() => 'hang');
    await src.tx(setUrl('AgentLog', rx.urlFor('/log2')));
    const bridge = env.startBridge({ args: ['--max-outbox-pending', '5', '--concurrency-per-url', '1'] });
    await bridge.waitReady();
    for (let i = 0; i < 15; i++)
      await src.tx(
        queueLog({ time: `2026-03-02 11:00:${String(i).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent: `b${i}` }),
      );
    await bridge.waitForLog((l) => l.code === 'UCW_WARN_OUTBOX_FULL', 'outbox full warning');
    assert.equal(await bridge.stop(), 0);
  });
});
