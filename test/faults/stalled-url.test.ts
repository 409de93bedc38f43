// One endpoint stalls while another stays healthy, for each way an endpoint can stall: its port
// refuses connections, it accepts requests and never answers (another host), or it never answers on
// the same host as the healthy URL. Every event goes to both URLs. While the stalled URL's backlog
// grows, the binlog keeps being read and each event reaches the healthy URL within ~1 s of its commit;
// when the stalled endpoint comes back, its backlog arrives complete and in per-agent order.

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { LogLine } from '../helpers/bridge-process.js';
import type { IntegrationEnv } from '../helpers/integration-env.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { startReceiver, type Receiver } from '../../demo/receiver.js';
import { setUrl } from '../helpers/source-fixture.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { Ledger, Traffic, Writer, type TrafficRow } from '../helpers/fault-kit.js';
import { startPortGate } from '../helpers/port-gate.js';
import { metric } from '../helpers/metrics-text.js';

const HEALTHY_LATENCY_BUDGET_MS = 1_000;
const STALL_MS = 3_000;
const AGENTS = 20;

type Stall = 'connections reset' | 'no answer, other host' | '503, same host' | 'no answer, same host';

async function scenario(env: IntegrationEnv, t: TestContext, stall: Stall): Promise<void> {
  const { src, rx } = env;
  await src.reset();
  await src.admin.query("DELETE FROM ccdata.webhooks WHERE name LIKE 'stalled-%'");
  rx.clear();
  const healthy = new Ledger('healthy');
  const stalled = new Ledger('stalled');
  // The stalled endpoint: its own receiver on a port of its own, or a path of the healthy receiver.
  let other: Receiver | undefined;
  let stalledUrl: string;
  let recover: () => Promise<void>;
  const ok = healthy.responder();
  if (stall.endsWith('same host')) {
    const down = stall === '503, same host' ? { status: 503 } : ('hang' as const);
    rx.setResponder((req, nth) => (req.path === '/stalled' ? down : ok(req, nth)));
    stalledUrl = rx.urlFor('/stalled');
    recover = () => {
      const back = stalled.responder();
      rx.setResponder((req, nth) => (req.path === '/stalled' ? back(req, nth) : ok(req, nth)));
      return Promise.resolve();
    };
  } else if (stall === 'connections reset') {
    rx.setResponder(ok);
    // Down: a port held for the test that resets every connection (no other process can take it).
    const gate = await startPortGate();
    t.after(() => gate.close());
    stalledUrl = `http://127.0.0.1:${gate.port}/stalled`;
    recover = async () => {
      other = await startReceiver(stalled.responder());
      gate.forwardTo(Number(new URL(other.url).port)); // back up, at the same address
    };
  } else {
    rx.setResponder(ok);
    other = await startReceiver(() => 'hang');
    stalledUrl = other.urlFor('/stalled');
    recover = () => {
      other!.setResponder(stalled.responder());
      return Promise.resolve();
    };
  }
  t.after(() => other?.close());
  await src.tx(setUrl('AgentLog', rx.urlFor('/ok')), setUrl('AgentBreak', rx.urlFor('/ok')), [
    'INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?), (?, ?, ?)',
    ['stalled-log', 'AgentLog', stalledUrl, 'stalled-break', 'AgentBreak', stalledUrl],
  ]);
  const bridge = env.startBridge({ stateDir: src.stateDir() });
  // Stopped before the next scenario also when this one fails: it would deliver that one's events too.
  t.after(() => bridge.stop());
  await bridge.waitReady();
  const port = bridge.httpPort();

  // Traffic for STALL_MS: small transactions, each row's commit time noted.
  const writer = new Writer(src.db.adminUrl, [healthy, stalled]);
  t.after(() => writer.close());
  const traffic = new Traffic();
  const committedAt = new Map<number, number>();
  const until = Date.now() + STALL_MS;
  for (let i = 0; Date.now() < until; i++) {
    const rows: TrafficRow[] = traffic.rows(1 + (i % 3), (k) => `agent${(i + k) % AGENTS}`);
    assert.equal(await writer.tx(rows), 'committed');
    const now = Date.now();
    for (const r of rows) committedAt.set(r.seq, now);
    await sleep(20);
  }
  // Within the latency budget of the last commit, the healthy URL has everything.
  await waitFor(() => healthy.complete(), {
    timeoutMs: HEALTHY_LATENCY_BUDGET_MS + 1_000,
    message: () => `healthy URL: only ${healthy.delivered}/${healthy.committed.length} arrived while the other stalls`,
  });
  const backlog = await metric(port, 'ucw_outbox_pending');
  assert.equal(stalled.delivered, 0, 'nothing reached the stalled endpoint');
  assert.ok(
    backlog >= stalled.committed.length,
    `the stalled URL's backlog is pending (${backlog} < ${stalled.committed.length})`,
  );

  const latencies = healthy.committed
    .map((r) => Math.max(0, healthy.arrivalOf(r.seq)! - committedAt.get(r.seq)!))
    .sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)]!;
  const max = latencies[latencies.length - 1]!;

  const backAt = Date.now();
  await recover();
  await waitFor(() => stalled.complete(), {
    timeoutMs: 20_000,
    message: () => `stalled URL after recovery: ${stalled.delivered}/${stalled.committed.length}`,
  });
  const drainedMs = Date.now() - backAt;
  const failuresAt = (url: string): LogLine[] =>
    bridge.logs.filter((l) => l.msg === 'delivery failed; will retry' && l.url === url);
  const healthyFailures = failuresAt(rx.urlFor('/ok'));
  const stalledFailures = failuresAt(stalledUrl);
  assert.ok(stalledFailures.length > 0, 'the stalled URL was attempted and failed');
  healthy.assertAllInOrder();
  stalled.assertAllInOrder();
  assert.equal(healthy.duplicates, 0, 'the healthy URL got each event once');
  const figures =
    `stalled-url (${stall}): ${healthy.committed.length} events to each ` +
    `URL over ${STALL_MS} ms; healthy latency p50 ${p50} ms, max ${max} ms; ` +
    `stalled backlog ${backlog} drained ${drainedMs} ms after recovery, in per-agent order; ` +
    `${stalledFailures.length} failed attempts to the stalled URL ` +
    `(${String(stalledFailures[0]?.code)}), ${healthyFailures.length} to the healthy ` +
    `URL${healthyFailures[0] ? ` (first: ${String(healthyFailures[0].error)})` : ''}`;
  t.diagnostic(figures);
  console.log(figures);
  assert.ok(
    max <= HEALTHY_LATENCY_BUDGET_MS,
    `a healthy-URL event arrived ${max} ms after its commit (budget ${HEALTHY_LATENCY_BUDGET_MS} ms)`,
  );
  assert.equal(await bridge.stop(), 0);
}

void describe('faults: one URL stalled, another healthy', () => {
  const env = useIntegrationEnv();

  void test('stalled by connections reset', (t) => scenario(env, t, 'connections reset'));
  void test('stalled by a receiver that never answers (another host)', (t) =>
    scenario(env, t, 'no answer, other host'));
  void test("stalled by a path answering 503 on the healthy URL's own host", (t) => scenario(env, t, '503, same host'));
  // Each URL has its own connection pool: a hung URL cannot hold the connections of its host.
  void test("stalled by a path that never answers on the healthy URL's own host", (t) =>
    scenario(env, t, 'no answer, same host'));
});
