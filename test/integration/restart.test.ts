// Stop the bridge, write more rows (and change a registration) while it is down, start it again:
// every event arrives exactly once in total, routed with the registrations in force at its position.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { agentOf } from '../helpers/bodies.js';

const at = (i: number): string =>
  `2026-03-02 11:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000`;

void describe('restart', () => {
  const env = useIntegrationEnv();
  const spawnBridge = (stateDir: string): BridgeProcess => env.startBridge({ stateDir });

  void test(
    'events written while the bridge is down arrive ' + 'once, with registrations as of their position',
    async () => {
      const { src, rx } = env;
      const stateDir = src.stateDir();
      await src.tx(setUrl('AgentLog', rx.urlFor('/before')), setUrl('AgentBreak', rx.urlFor('/break')));
      let bridge = spawnBridge(stateDir);
      await bridge.waitReady();

      for (let i = 0; i < 20; i++) await src.tx(queueLog({ time: at(i), event: 'AGENTLOGIN', agent: `agent${i}` }));
      await waitFor(() => rx.requests.length === 20, { message: () => `${rx.requests.length}/20 before stop` });
      assert.equal(await bridge.stop(), 0, 'SIGTERM gives exit code 0');
      assert.ok(bridge.logs.some((l) => l.msg === 'stopped'));

      // While the bridge is down: more events, a registration change in the middle, more events.
      for (let i = 20; i < 40; i++) await src.tx(queueLog({ time: at(i), event: 'AGENTLOGIN', agent: `agent${i}` }));
      await src.tx(setUrl('AgentLog', rx.urlFor('/after')));
      for (let i = 40; i < 60; i++) await src.tx(queueLog({ time: at(i), event: 'AGENTLOGIN', agent: `agent${i}` }));
      await src.tx(queueLog({ time: at(61), event: 'PAUSE', agent: 'x', data1: 'r' }));

      bridge = spawnBridge(stateDir);
      await bridge.waitReady();
      await waitFor(() => rx.requests.length >= 61, { message: () => `${rx.requests.length}/61 after restart` });
      for (let i = 60; i < 65; i++)
        await src.tx(queueLog({ time: at(i + 2), event: 'AGENTLOGIN', agent: `agent${i}` }));
      await waitFor(() => rx.requests.length >= 66, { message: () => `${rx.requests.length}/66 live after restart` });
      // A marker committed last: by its arrival a late extra delivery of the events above is counted.
      await src.tx(queueLog({ time: at(70), event: 'AGENTLOGIN', agent: 'marker' }));
      await waitFor(() => rx.requests.some((r) => agentOf(r.body) === 'marker'), { message: 'marker never arrived' });

      const agentsAt = (path: string): string[] =>
        rx.requests.filter((r) => r.path === path).map((r) => agentOf(r.body));
      const range = (a: number, b: number): string[] => Array.from({ length: b - a }, (_, i) => `agent${a + i}`);
      assert.deepEqual(agentsAt('/before').sort(), range(0, 40).sort());
      assert.deepEqual(agentsAt('/after').sort(), [...range(40, 65), 'marker'].sort());
      const ids = rx.requests.map((r) => r.headers['webhook-id']);
      assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
      assert.equal(rx.requests.length, 67);
      assert.equal(await bridge.stop(), 0);
    },
  );

  void test(
    'SIGKILL mid-stream with 500s mixed in: every ' + 'event arrives, duplicates carry the same webhook-id',
    async () => {
      const { src, rx } = env;
      rx.clear();
      await src.reset();
      await src.tx(setUrl('AgentLog', rx.urlFor('/crash')));
      // Every third attempt fails: retries are pending or in flight when the process dies.
      const delivered = new Set<string>();
      rx.setResponder((req, nth) => {
        if (nth % 3 === 0) return { status: 500 };
        delivered.add(req.headers['webhook-id']!);
        return { status: 200 };
      });
      const stateDir = src.stateDir();
      let bridge = spawnBridge(stateDir);
      await bridge.waitReady();

      const TOTAL = 600;
      const rows = Array.from({ length: TOTAL }, (_, i) => `('${at(i)}', 'AGENTLOGIN', 'crash${i % 50}', 'tx${i}')`);
      const writeTx = (t: number): Promise<void> =>
        src.tx(
          `INSERT INTO ccrepo.queue_log_repo (time, event, agent, ` +
            `callid) VALUES ${rows.slice(t * 10, t * 10 + 10).join(', ')}`,
        );
      for (let t = 0; t < 30; t++) await writeTx(t);
      await waitFor(() => rx.requests.length >= 50, { message: 'stream did not start' });
      assert.equal(await bridge.kill(), null, 'killed by signal');
      // The second half is written while no bridge runs: only the restarted one can deliver it.
      for (let t = 30; t < 60; t++) await writeTx(t);

      bridge = spawnBridge(stateDir);
      await waitFor(() => delivered.size === TOTAL, {
        message: () => `${delivered.size}/${TOTAL} events delivered`,
        timeoutMs: 30_000,
      });
      await bridge.waitForLog((l) => l.msg === 'bridge started', 'restarted bridge');
      const bodyById = new Map<string, string>();
      for (const r of rx.requests) {
        const id = r.headers['webhook-id']!;
        const seen = bodyById.get(id);
        if (seen !== undefined) assert.equal(r.body, seen, 'a duplicate has the same id and the same body');
        bodyById.set(id, r.body);
      }
      assert.equal(new Set(rx.requests.map((r) => r.body)).size, TOTAL, 'each distinct body has exactly one id');
      assert.equal(await bridge.stop(), 0);
    },
  );

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    void test(
      `${signal} with requests in flight: one answered within --shutdown-grace-ms is recorded as delivered; ` +
        'past the grace the bridge stops anyway and that one stays pending',
      async () => {
        const { src, rx } = env;
        const GRACE_MS = 3000;
        const path = `/grace-${signal}`;
        rx.clear();
        await src.reset();
        await src.tx(setUrl('AgentLog', rx.urlFor(path)));
        const stateDir = src.stateDir();
        // "quick" is answered 1 s after it arrives (inside the grace); "stuck" is never answered.
        rx.setResponder((req) => (agentOf(req.body) === 'stuck' ? 'hang' : { status: 200, delayMs: 1000 }));
        const args = ['--shutdown-grace-ms', String(GRACE_MS)];
        let bridge = env.startBridge({ stateDir, args });
        await bridge.waitReady();
        await src.tx(queueLog({ time: at(100), event: 'AGENTLOGIN', agent: 'quick' }));
        await src.tx(queueLog({ time: at(101), event: 'AGENTLOGIN', agent: 'stuck' }));
        await waitFor(() => rx.requests.length === 2, { message: () => `${rx.requests.length}/2 in flight` });
        const stuckId = rx.requests.find((r) => agentOf(r.body) === 'stuck')!.headers['webhook-id'];

        const signalledAt = Date.now();
        assert.equal(await bridge.stopWith(signal), 0, `${signal} gives exit code 0`);
        const tookMs = Date.now() - signalledAt;
        assert.ok(bridge.logs.some((l) => l.msg === 'stopped'));
        // The bridge's own timer is the subject: it waited out the grace for "stuck", never less.
        assert.ok(tookMs >= GRACE_MS - 100, `stopped ${tookMs} ms after ${signal}, inside the ${GRACE_MS} ms grace`);

        // Restarted: "stuck" is sent again with its id; "quick" was recorded as delivered, so a later
        // event of its key and URL (sent only after every earlier one) arrives with no resend before it.
        rx.setResponder(() => ({ status: 200 }));
        bridge = env.startBridge({ stateDir, args });
        await bridge.waitReady();
        await src.tx(queueLog({ time: at(102), event: 'AGENTLOGOFF', agent: 'quick' }));
        await waitFor(
          () =>
            rx.requests.some((r) => r.body.includes('"isLogin":false')) &&
            rx.requests.filter((r) => agentOf(r.body) === 'stuck').length === 2,
          { message: () => rx.requests.map((r) => r.body).join('\n') },
        );
        const quick = rx.requests.filter((r) => agentOf(r.body) === 'quick').map((r) => r.body);
        assert.equal(quick.length, 2, quick.join('\n'));
        assert.match(quick[0]!, /"isLogin":true/);
        assert.match(quick[1]!, /"isLogin":false/);
        const stuck = rx.requests.filter((r) => agentOf(r.body) === 'stuck');
        assert.equal(stuck[1]!.headers['webhook-id'], stuckId, 'the pending one is re-sent with its id');
        assert.equal(await bridge.stop(), 0);
      },
    );
  }
});
