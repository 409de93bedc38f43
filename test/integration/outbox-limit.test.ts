// Past --max-outbox-pending deliveries that can drain (a slow receiver's, not a held one's) the
// bridge pauses reading the binlog (never drops), says so in logs and metrics, and resumes when
// deliveries drain; a SIGTERM while paused still stops cleanly.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const metric = async (port: number, name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

void describe('outbox growth limit', () => {
  const env = useIntegrationEnv();

  void test('reading pauses at the limit, nothing is dropped, and it resumes as deliveries drain', async () => {
    const { src, rx } = env;
    let open = false;
    const ok = new Set<string>();
    // A slow receiver (one connection, 300 ms an answer): its deliveries drain, slower than they come.
    rx.setResponder((req) => {
      ok.add(req.body);
      return { status: 200, delayMs: open ? 0 : 300 };
    });
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')));
    const bridge = env.startBridge({
      args: ['--max-outbox-pending', '20', '--max-queued-rows', '100', '--concurrency-per-url', '1'],
    });
    await bridge.waitReady();
    const port = bridge.httpPort();

    for (let i = 0; i < 60; i++)
      await src.tx(
        queueLog({ time: `2026-03-02 10:00:${String(i).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent: `a${i}` }),
      );
    await bridge.waitForLog((l) => l.code === 'UCW_WARN_OUTBOX_FULL', 'outbox full warning');
    await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 1, {
      message: 'ucw_source_paused never 1',
    });
    const pending = await metric(port, 'ucw_outbox_pending');
    assert.ok(pending <= 20, `pending ${pending} exceeds the limit`);

    open = true;
    await waitFor(() => ok.size === 60, { message: () => `${ok.size}/60 delivered after draining`, timeoutMs: 30_000 });
    await waitFor(async () => (await metric(port, 'ucw_source_paused')) === 0, {
      message: 'ucw_source_paused stayed 1',
    });
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
