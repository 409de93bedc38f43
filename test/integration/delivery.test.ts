// Delivery semantics against real receivers: retries keep the webhook-id, Retry-After is obeyed,
// non-retryable answers dead-letter (kept, listable, requeueable), and one key's retries never
// reorder it nor hold back other keys.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { beforeEach, describe, test } from 'node:test';
import { CLI, type BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import type { Receiver } from '../../demo/receiver.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { EXIT_TIMEOUT_MS } from '../helpers/child-exit.js';
import { agentOf } from '../helpers/bodies.js';

const at = (s: number): string => `2026-03-02 12:00:${String(s).padStart(2, '0')}.000`;

void describe('delivery', () => {
  const env = useIntegrationEnv();
  let src: SourceFixture;
  let rx: Receiver;
  let bridge: BridgeProcess | undefined;
  let stateDir: string;

  beforeEach(async () => {
    ({ src, rx } = env);
    await bridge?.stop();
    rx.clear();
    rx.setResponder(() => ({ status: 200 }));
    await src.reset();
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')), setUrl('AgentBreak', rx.urlFor('/break')));
    stateDir = src.stateDir();
    bridge = env.startBridge({ stateDir, args: ['--max-attempts', '4'] });
    await bridge.waitReady();
  });

  void test('500 then 200: retried with the same webhook-id and body', async () => {
    rx.setResponder((_req, nth) => (nth <= 2 ? { status: 500, body: 'oops' } : { status: 200 }));
    await src.tx(queueLog({ time: at(1), event: 'AGENTLOGIN', agent: 'jdoe' }));
    // A marker of the same key and URL: sent only after the login was delivered, so by its arrival
    // every attempt of the login is recorded and an extra one would be counted.
    await src.tx(queueLog({ time: at(9), event: 'AGENTLOGOFF', agent: 'jdoe' }));
    await waitFor(() => rx.requests.some((r) => r.body.includes('"isLogin":false')), {
      message: () => `marker not seen; ${rx.requests.length} requests`,
    });
    const logins = rx.requests.filter((r) => r.body.includes('"isLogin":true'));
    assert.equal(logins.length, 3, 'two failed attempts and the delivered one, no more');
    const [a, b, c] = logins;
    assert.equal(a!.headers['webhook-id'], b!.headers['webhook-id']);
    assert.equal(a!.headers['webhook-id'], c!.headers['webhook-id']);
    assert.equal(a!.body, c!.body);
    const retries = bridge!.logs.filter((l) => l.msg === 'delivery failed; will retry');
    assert.equal(retries.length, 2);
    assert.equal(retries[0]!.status, 500);
    assert.equal(retries[0]!.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
    // The log names the URL without secrets and never the body.
    assert.ok(!JSON.stringify(retries[0]).includes('isLogin'));
  });

  void test('429 with Retry-After: the next attempt waits as asked', async () => {
    rx.setResponder((_req, nth) => (nth === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 }));
    await src.tx(queueLog({ time: at(2), event: 'AGENTLOGIN', agent: 'jdoe' }));
    await waitFor(() => rx.requests.length === 2, {
      message: () => `${rx.requests.length}/2 attempts`,
      timeoutMs: 10_000,
    });
    const gap = rx.requests[1]!.receivedAtMs - rx.requests[0]!.receivedAtMs;
    assert.ok(gap >= 1900, `second attempt came after ${gap} ms, before the 2 s Retry-After`);
    // Generous (a shared machine): only a retry far past the asked time fails here.
    assert.ok(gap < 15_000, `second attempt came after ${gap} ms`);
  });

  void test('400: dead letter, kept in the store, listed and requeued by the CLI', async () => {
    rx.setResponder((_req, nth) => (nth === 1 ? { status: 400, body: 'bad request' } : { status: 200 }));
    await src.tx(queueLog({ time: at(3), event: 'AGENTLOGIN', agent: 'dead' }));
    await bridge!.waitForLog((l) => l.msg === 'delivery dead-lettered (kept in the outbox)', 'dead letter log');
    await src.tx(queueLog({ time: at(4), event: 'AGENTLOGIN', agent: 'dead' }));
    await waitFor(() => rx.requests.length === 2, { message: 'the next event of the same key was not released' });
    assert.equal(await bridge!.stop(), 0);
    assert.equal(rx.requests.length, 2, 'a 400 is not retried');

    const listed = execFileSync(process.execPath, [CLI, 'dead-letters', 'list', '--state-dir', stateDir], {
      encoding: 'utf8',
      // Bounded: a CLI that hangs is killed and fails the test.
      timeout: EXIT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; lastStatus: number; lastError: string; eventName: string });
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.lastStatus, 400);
    assert.equal(listed[0]!.eventName, 'AgentLog');
    assert.match(listed[0]!.lastError, /^UCW_ERR_DELIVERY_HTTP_STATUS/);

    const out = execFileSync(process.execPath, [CLI, 'dead-letters', 'retry', '--state-dir', stateDir], {
      encoding: 'utf8',
      // Bounded: a CLI that hangs is killed and fails the test.
      timeout: EXIT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    assert.match(out, /requeued 1 deliveries/);
    bridge = env.startBridge({ stateDir });
    await waitFor(() => rx.requests.length === 3, { message: 'requeued dead letter not delivered after restart' });
    assert.equal(rx.requests[2]!.headers['webhook-id'], rx.requests[0]!.headers['webhook-id']);
  });

  void test('retry budget spent: dead-lettered with UCW_ERR_DELIVERY_EXHAUSTED', async () => {
    rx.setResponder(() => ({ status: 503 }));
    await src.tx(queueLog({ time: at(5), event: 'AGENTLOGIN', agent: 'flaky' }));
    const dead = await bridge!.waitForLog(
      (l) => l.msg === 'delivery dead-lettered (kept in the outbox)',
      'dead letter log',
    );
    assert.equal(dead.code, 'UCW_ERR_DELIVERY_EXHAUSTED');
    assert.equal(rx.requests.length, 4, 'max-attempts 4');
  });

  void test('per-key order holds while that key retries, and other keys are not held back', async () => {
    // A budget no scheduling delay spends: the gate below is a fact, not a retry window.
    await bridge!.stop();
    bridge = env.startBridge({ stateDir, args: ['--max-attempts', '1000'] });
    await bridge.waitReady();
    await src.tx(setUrl('AgentBreak', rx.urlFor('/log')));
    // Agent "slow": its login fails (at least twice) until every fast agent's event has arrived, so it
    // succeeds only if the other keys were not held back by its retries. Its later events (same URL,
    // same key) must wait and keep order.
    const attemptsByBody = new Map<string, number>();
    const succeeded: string[] = [];
    const fastArrived = (): number => succeeded.filter((b) => agentOf(b).startsWith('fast')).length;
    rx.setResponder((req) => {
      const n = (attemptsByBody.get(req.body) ?? 0) + 1;
      attemptsByBody.set(req.body, n);
      const slowLogin = agentOf(req.body) === 'slow' && req.body.includes('"isLogin":true');
      if (slowLogin && (n <= 2 || fastArrived() < 5)) return { status: 500 };
      succeeded.push(req.body);
      return { status: 200 };
    });
    await src.tx(queueLog({ time: at(10), event: 'AGENTLOGIN', agent: 'slow' }));
    await src.tx(queueLog({ time: at(11), event: 'PAUSE', agent: 'slow', data1: 'one' }));
    await src.tx(queueLog({ time: at(12), event: 'UNPAUSE', agent: 'slow', data1: 'one' }));
    await src.tx(queueLog({ time: at(13), event: 'AGENTLOGOFF', agent: 'slow' }));
    for (let i = 0; i < 5; i++) await src.tx(queueLog({ time: at(20 + i), event: 'AGENTLOGIN', agent: `fast${i}` }));

    await waitFor(() => succeeded.length === 9, { message: () => `${succeeded.length}/9 delivered` });
    const label = (body: string): string => {
      const b = JSON.parse(body) as Record<string, unknown>;
      return `${String(b.agent)} ${String(b.event)} ${String(b.isBreak ?? b.isLogin)}`;
    };
    const order = succeeded.map(label);
    assert.deepEqual(
      order.filter((l) => l.startsWith('slow')),
      ['slow AgentLog true', 'slow AgentBreak true', 'slow AgentBreak false', 'slow AgentLog false'],
    );
    assert.ok(attemptsByBody.get(succeeded.find((b) => label(b) === 'slow AgentLog true')!)! >= 3);
    // Every fast agent got through before the slow agent's login finally did.
    const slowLoginAt = order.indexOf('slow AgentLog true');
    assert.deepEqual(
      order.slice(0, slowLoginAt).sort(),
      [0, 1, 2, 3, 4].map((i) => `fast${i} AgentLog true`),
    );
    // No request of "slow" other than its login attempts went out before the login succeeded.
    const slowRequests = rx.requests.filter((r) => agentOf(r.body) === 'slow').map((r) => label(r.body));
    const loginAttempts = attemptsByBody.get(succeeded.find((b) => label(b) === 'slow AgentLog true')!)!;
    assert.deepEqual(slowRequests.slice(0, loginAttempts), Array(loginAttempts).fill('slow AgentLog true'));
    assert.equal(slowRequests.length, loginAttempts + 3, 'each later event of slow sent once');
  });
});
