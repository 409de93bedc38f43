// Two bridges with default options (each its own state directory) on one server: each derives its
// own replica server id, so neither kicks the other's binlog connection off; both stay ready and
// deliver every event, with no reconnect. Two given the same --server-id: the server (MariaDB 10.11)
// drops the stream of the one connected first (error 4052), which stops with a coded error naming
// --server-id instead of reconnecting and kicking the other off in turn.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const EVENTS = 20;

void describe('two bridges on one server', () => {
  const env = useIntegrationEnv();

  void test('both are ready and deliver every event, with no reconnect', async () => {
    const { src, rx } = env;
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')));
    // The bridges differ only in signing (so their requests can be told apart), nothing that touches the source.
    const signed = env.startBridge({ args: ['--signing-secret', 'whsec_c2VjcmV0LWZvci10ZXN0cw=='] });
    const plain = env.startBridge();
    await Promise.all([signed.waitReady(), plain.waitReady()]);
    for (let i = 0; i < EVENTS; i++) {
      await src.tx(
        queueLog({
          time: `2026-03-02 10:00:${String(i).padStart(2, '0')}.000`,
          event: i % 2 ? 'AGENTLOGOFF' : 'AGENTLOGIN',
          agent: 'ana',
        }),
      );
    }
    const bodies = (withSignature: boolean): string[] =>
      rx.requests.filter((r) => 'webhook-signature' in r.headers === withSignature).map((r) => r.body);
    await waitFor(() => bodies(true).length >= EVENTS && bodies(false).length >= EVENTS, {
      timeoutMs: 30_000,
      message: () => `signed ${bodies(true).length}, plain ${bodies(false).length} of ${EVENTS}`,
    });
    const expected = Array.from({ length: EVENTS }, (_, i) =>
      JSON.stringify({
        event: 'AgentLog',
        date: `2026-03-02 10:00:${String(i).padStart(2, '0')}`,
        agent: 'ana',
        isLogin: i % 2 === 0,
      }),
    );
    assert.deepEqual(bodies(true), expected);
    assert.deepEqual(bodies(false), expected);
    const reconnects = (b: typeof signed): unknown[] =>
      b.logs.filter((l) => l.msg === 'source unavailable; reconnecting').map((l) => l.error);
    assert.deepEqual(reconnects(signed), []);
    assert.deepEqual(reconnects(plain), []);
    assert.equal(await signed.stop(), 0);
    assert.equal(await plain.stop(), 0);
  });

  void test(
    'two bridges given the same --server-id: the first is ' + 'dropped and stops with UCW_ERR_SOURCE_SERVER_ID_CLASH',
    async () => {
      const first = env.startBridge({ args: ['--server-id', '48151'] });
      await first.waitReady();
      const second = env.startBridge({ args: ['--server-id', '48151'] });
      await second.waitReady();
      assert.equal(await first.waitExit(), 1);
      const fatal = first.logs.find((l) => l.level === 'fatal');
      assert.equal(fatal?.code, 'UCW_ERR_SOURCE_SERVER_ID_CLASH');
      assert.match(String(fatal?.hint), /--server-id/);
      assert.doesNotMatch(String(fatal?.hint), /--reset-to-now/);
      assert.deepEqual(
        first.logs.filter((l) => l.msg === 'source unavailable; reconnecting'),
        [],
      );
      // The newcomer keeps its stream.
      await second.waitReady();
      assert.deepEqual(
        second.logs.filter((l) => l.msg === 'source unavailable; reconnecting'),
        [],
      );
      assert.equal(await second.stop(), 0);
    },
  );
});
