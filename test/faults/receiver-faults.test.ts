// Receiver-side faults with a healthy source: a receiver that refuses connections for longer than the
// first retry steps, one that answers only after --request-timeout-ms, and one that answers 429 with
// Retry-After. Retries follow the documented schedule, nothing gets stuck, and once the receiver
// recovers everything arrives in per-agent order.

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { BridgeProcess, LogLine } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { startReceiver } from '../../demo/receiver.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { Ledger, Traffic, Writer } from '../helpers/fault-kit.js';
import { agentOf } from '../helpers/bodies.js';
import { startPortGate } from '../helpers/port-gate.js';

const AGENTS = 10;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 400;

const retries = (bridge: BridgeProcess): LogLine[] =>
  bridge.logs.filter((l) => l.msg === 'delivery failed; will retry');

void describe('faults: receiver down, slow, rate-limiting', () => {
  const env = useIntegrationEnv();

  beforeEach(async () => {
    env.rx.clear();
    await env.src.reset();
  });

  /** Writes `txs` transactions of 1-4 rows for AGENTS agents; returns the writer (closed by the caller). */
  const writeTraffic = async (ledger: Ledger, traffic: Traffic, txs: number): Promise<void> => {
    const writer = new Writer(env.src.db.adminUrl, ledger);
    try {
      for (let i = 0; i < txs; i++)
        assert.equal(await writer.tx(traffic.rows(1 + (i % 4), (k) => `agent${(i + k) % AGENTS}`)), 'committed');
    } finally {
      await writer.close();
    }
  };

  void test('receiver down (connections reset) past the first retry steps, then back: all in order', async (t) => {
    const { src } = env;
    const ledger = new Ledger('/down');
    // Down: a port held for the test that resets every connection (no other process can take it).
    const gate = await startPortGate();
    t.after(() => gate.close());
    const url = `http://127.0.0.1:${gate.port}/down`;
    await src.tx(setUrl('AgentLog', url), setUrl('AgentBreak', url));
    const bridge = env.startBridge({ stateDir: src.stateDir() });
    t.after(() => bridge.stop());
    await bridge.waitReady();
    const traffic = new Traffic();
    await writeTraffic(ledger, traffic, 20);

    // Down until some delivery is past the doubling steps and retrying at the cap.
    const pastSteps = await bridge.waitForLog(
      (l) => l.msg === 'delivery failed; will retry' && Number(l.attempt) >= 5,
      'fifth failed attempt',
    );
    await writeTraffic(ledger, traffic, 20); // more while it is down
    const one = retries(bridge)
      .filter((l) => l.deliveryId === pastSteps.deliveryId)
      .slice(0, 5);
    assert.deepEqual(
      one.map((l) => l.attempt),
      [1, 2, 3, 4, 5],
    );
    assert.ok(
      one.every((l) => l.code === 'UCW_ERR_DELIVERY_NETWORK'),
      JSON.stringify(one[0]),
    );
    // Backoff: [step/2, step] with step = base * 2^(attempt-1), capped (a few ms of scheduling slack).
    for (const l of one) {
      const step = Math.min(RETRY_BASE_MS * 2 ** (Number(l.attempt) - 1), RETRY_MAX_MS);
      const delay = Number(l.retryInMs);
      assert.ok(
        delay >= step / 2 - 5 && delay <= step,
        `attempt ${String(l.attempt)} retried in ${delay} ms, step ${step}`,
      );
    }

    const downFor = Date.now() - Date.parse(String(retries(bridge)[0]!.time));
    const rx = await startReceiver(ledger.responder());
    t.after(() => rx.close());
    gate.forwardTo(Number(new URL(rx.url).port)); // back up, at the same address
    const upAt = Date.now();
    await waitFor(() => ledger.complete(), {
      message: () => `${ledger.delivered}/${ledger.committed.length} after the receiver came back`,
    });
    ledger.assertAllInOrder();
    assert.equal(ledger.duplicates, 0);
    const figures =
      `receiver down: ${ledger.committed.length} ` +
      `events, ${retries(bridge).length} refused attempts over ~${downFor} ms; ` +
      `all delivered in order ${Date.now() - upAt} ms after it came back`;
    t.diagnostic(figures);
    console.log(figures);
  });

  void test(
    'receiver slower than --request-timeout-ms: attempts ' + 'time out and are retried, delivered once it speeds up',
    async (t) => {
      const { src, rx } = env;
      const TIMEOUT_MS = 400;
      const ledger = new Ledger('/slow');
      let slow = true;
      rx.setResponder(ledger.responder(() => (slow ? { status: 200, delayMs: TIMEOUT_MS * 3 } : undefined)));
      await src.tx(setUrl('AgentLog', rx.urlFor('/slow')), setUrl('AgentBreak', rx.urlFor('/slow')));
      const bridge = env.startBridge({ stateDir: src.stateDir(), args: ['--request-timeout-ms', String(TIMEOUT_MS)] });
      t.after(() => bridge.stop());
      await bridge.waitReady();
      await writeTraffic(ledger, new Traffic(), 15);

      // Not stuck: every key's head keeps being attempted while the receiver is slow.
      await waitFor(
        () => {
          const perDelivery = new Map<unknown, number>();
          for (const l of retries(bridge)) perDelivery.set(l.deliveryId, Number(l.attempt));
          return perDelivery.size >= AGENTS && [...perDelivery.values()].every((n) => n >= 3);
        },
        { timeoutMs: 20_000, message: () => `retries so far: ${retries(bridge).length}` },
      );
      const timeouts = retries(bridge);
      assert.ok(
        timeouts.every((l) => l.code === 'UCW_ERR_DELIVERY_TIMEOUT'),
        JSON.stringify(timeouts.find((l) => l.code !== 'UCW_ERR_DELIVERY_TIMEOUT')),
      );
      assert.equal(ledger.delivered, 0, 'an answer after the timeout is not a delivery');
      const slowRequests = rx.requests.length;

      slow = false;
      const fastAt = Date.now();
      await waitFor(() => ledger.complete(), {
        message: () => `${ledger.delivered}/${ledger.committed.length} after the receiver sped up`,
      });
      ledger.assertAllInOrder();
      const figures =
        `receiver slow: ${ledger.committed.length} events, ${timeouts.length} ` +
        `timed-out attempts (${slowRequests} slow requests, timeout ${TIMEOUT_MS} ms); ` +
        `all delivered in order ${Date.now() - fastAt} ms after it sped up`;
      t.diagnostic(figures);
      console.log(figures);
    },
  );

  void test(
    '429 with Retry-After (seconds and HTTP-date): the retry ' +
      'waits as asked, beyond the backoff cap, other agents go on',
    async (t) => {
      const { src, rx } = env;
      const ledger = new Ledger('/busy');
      // agent0's events: 429 "Retry-After: 2" on the first attempt; agent1's: an HTTP-date 2 s ahead.
      rx.setResponder(
        ledger.responder((req, prior) => {
          if (prior > 0) return undefined;
          const agent = agentOf(req.body);
          if (agent === 'agent0') return { status: 429, headers: { 'retry-after': '2' } };
          if (agent === 'agent1')
            return { status: 429, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } };
          return undefined;
        }),
      );
      await src.tx(setUrl('AgentLog', rx.urlFor('/busy')), setUrl('AgentBreak', rx.urlFor('/busy')));
      const bridge = env.startBridge({ stateDir: src.stateDir() });
      t.after(() => bridge.stop());
      await bridge.waitReady();
      await writeTraffic(ledger, new Traffic(), 10);
      await waitFor(() => ledger.complete(), {
        timeoutMs: 30_000,
        message: () => `${ledger.delivered}/${ledger.committed.length}`,
      });
      ledger.assertAllInOrder();

      const attemptsOf = (agent: string): Map<string, number[]> => {
        const byId = new Map<string, number[]>();
        for (const r of rx.requests) {
          if (agentOf(r.body) !== agent) continue;
          const id = r.headers['webhook-id']!;
          byId.set(id, [...(byId.get(id) ?? []), r.receivedAtMs]);
        }
        return byId;
      };
      const gaps: number[] = [];
      for (const [agent, min] of [
        ['agent0', 1950],
        ['agent1', 950],
      ] as const) {
        for (const [id, times] of attemptsOf(agent)) {
          assert.equal(times.length, 2, `${agent} ${id}: one 429, then one delivery`);
          const gap = times[1]! - times[0]!;
          gaps.push(gap);
          assert.ok(
            gap >= min,
            `${agent}: retried ${gap} ms after a 429 asking for ${min === 1950 ? '2 s' : 'an HTTP-date'}`,
          );
          assert.ok(gap <= 3000, `${agent}: retried only ${gap} ms after the 429`);
        }
      }
      // Others were not held back by the waiting agents: all their events were in before agent0's first retry.
      const firstRetry = Math.min(...[...attemptsOf('agent0').values()].map((times) => times[1]!));
      const others = ledger.firstArrivals.filter((a) => a.row.agent !== 'agent0' && a.row.agent !== 'agent1');
      assert.ok(
        others.every((a) => a.atMs < firstRetry),
        'other agents were delivered while agent0 waited',
      );
      const figures =
        `429: ${gaps.length} Retry-After waits honoured (${Math.min(...gaps)}-${Math.max(...gaps)} ` +
        `ms); ${others.length} other events not held back`;
      t.diagnostic(figures);
      console.log(figures);
    },
  );
});
