// The delivery guards through the built CLI (so the options are wired end to end): a 410 Gone pauses
// one URL and not another, with the coded log and the ucw_urls_paused gauge, then a probe resumes it;
// --block-private-networks dead-letters a loopback receiver without a request; an unusable --ca-file
// stops start-up with a configuration error.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import type { Receiver } from '../../demo/receiver.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { agentOf } from '../helpers/bodies.js';
import { metric } from '../helpers/metrics-text.js';

const at = (s: number): string => `2026-03-02 13:00:${String(s).padStart(2, '0')}.000`;
const PAUSE_MS = 1500;

const gauge = (bridge: BridgeProcess, name: string): Promise<number> => metric(bridge.httpPort(), name);

void describe('delivery guards (CLI)', () => {
  const env = useIntegrationEnv();
  let src: SourceFixture;
  let rx: Receiver;

  beforeEach(async () => {
    ({ src, rx } = env);
    rx.clear();
    rx.setResponder(() => ({ status: 200 }));
    await src.reset();
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')), setUrl('AgentBreak', rx.urlFor('/break')));
  });

  void test('410 Gone pauses that URL only, reports it once with the gauge, and a 2xx probe resumes it', async () => {
    rx.setResponder((req, nth) => (req.path === '/log' && nth === 1 ? { status: 410, body: 'gone' } : { status: 200 }));
    const bridge = env.startBridge({ args: ['--gone-pause-ms', String(PAUSE_MS), '--max-attempts', '1'] });
    await bridge.waitReady();

    await src.tx(queueLog({ time: at(1), event: 'AGENTLOGIN', agent: 'jdoe' }));
    const gone = await bridge.waitForLog((l) => l.code === 'UCW_ERR_DELIVERY_GONE', '410 log');
    assert.equal(gone.level, 'error');
    assert.equal(gone.msg, 'receiver answered 410 Gone; URL paused for 1.5 s; events kept');
    assert.equal(await gauge(bridge, 'ucw_urls_paused'), 1);

    // Another agent: its login (paused URL) waits, its break (other URL) goes at once.
    await src.tx(
      queueLog({ time: at(2), event: 'AGENTLOGIN', agent: 'ana' }),
      queueLog({ time: at(3), event: 'PAUSE', agent: 'ana', data1: 'lunch' }),
    );
    await waitFor(() => rx.requests.some((r) => r.path === '/break'), {
      timeoutMs: 5_000,
      message: 'the other URL was held back',
    });
    assert.deepEqual(rx.requests.filter((r) => r.path === '/log').length, 1, 'a request went to the paused URL');

    await waitFor(() => rx.requests.filter((r) => r.path === '/log').length === 3, {
      timeoutMs: 10_000,
      message: () => `${rx.requests.length} requests`,
    });
    const log = rx.requests.filter((r) => r.path === '/log');
    assert.deepEqual(
      log.map((r) => agentOf(r.body)),
      ['jdoe', 'jdoe', 'ana'],
      'the probe is the event that got the 410',
    );
    assert.ok(
      log[1]!.receivedAtMs - log[0]!.receivedAtMs >= PAUSE_MS - 50,
      `probe after ${log[1]!.receivedAtMs - log[0]!.receivedAtMs} ms`,
    );
    assert.equal(log[1]!.headers['webhook-id'], log[0]!.headers['webhook-id']);
    await bridge.waitForLog((l) => l.msg === 'URL resumed after 410 Gone pause', 'resume log');
    assert.equal(await gauge(bridge, 'ucw_urls_paused'), 0);
    // --max-attempts 1, yet the 410 did not dead-letter the event.
    assert.ok(!bridge.logs.some((l) => l.msg === 'delivery dead-lettered (kept in the outbox)'));
    assert.equal(bridge.logs.filter((l) => l.code === 'UCW_ERR_DELIVERY_GONE').length, 1);
    assert.equal(await bridge.stop(), 0);
  });

  void test('--block-private-networks: a loopback receiver is dead-lettered BLOCKED and gets nothing', async () => {
    const bridge = env.startBridge({ args: ['--block-private-networks'] });
    await bridge.waitReady();
    await src.tx(queueLog({ time: at(10), event: 'AGENTLOGIN', agent: 'jdoe' }));
    const dead = await bridge.waitForLog((l) => l.msg === 'delivery dead-lettered (kept in the outbox)', 'dead letter');
    assert.equal(dead.code, 'UCW_ERR_DELIVERY_BLOCKED');
    assert.match(String(dead.error), /127\.0\.0\.1 is a loopback address/);
    assert.equal(rx.requests.length, 0);
    assert.equal(await bridge.stop(), 0);
  });

  void test(
    'an unreadable --ca-file: start-up fails with ' + 'UCW_ERR_CONFIG_INVALID (exit 2) naming the option',
    async () => {
      const missing = join(src.stateDir(), 'no-such-ca.pem');
      const bridge = env.startBridge({ args: ['--ca-file', missing] });
      assert.equal(await bridge.waitExit(), 2);
      const stderr = bridge.stderr.join('');
      assert.match(
        stderr,
        /UCW_ERR_CONFIG_INVALID: --ca-file \(UCW_CA_FILE\): .*no-such-ca\.pem: cannot be read \(ENOENT\)/,
      );
    },
  );
});
