// `deliveries list|show|retry|discard|resume` on the real MariaDB fixture and real receivers. With a
// running bridge, the write commands go through its admin API (the CLI cannot take the state dir's
// lock, and says `via: bridge`): dead letters are retried with the SAME delivery and event ids
// (webhook-id) without a restart, a paused URL's backlog is discarded or resumed at once, and the
// write routes refuse a request without the token (401). With no bridge, the same commands take the
// lock and change the store; the next bridge sends what was retried or resumed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startReceiver, type Receiver } from '../../demo/receiver.js';
import { runCli } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const BASE_MS = Date.UTC(2026, 10, 30, 9, 0, 0);
let nextSeq = 0;
/** `n` PAUSE rows (AgentBreak events), each with its own time so each body is unique. */
const pauses = (n: number): string =>
  `INSERT INTO ccrepo.queue_log_repo (time, agent, event, data1) VALUES ${Array.from({ length: n }, () => {
    const seq = nextSeq++;
    const time = new Date(BASE_MS + seq * 1000).toISOString().slice(0, 19).replace('T', ' ');
    return `('${time}.000', 'dl-${seq % 3}', 'PAUSE', 'm${seq}')`;
  }).join(', ')}`;

interface Listed {
  id: number;
  url: string;
  event: string;
  eventId: string;
  state: string;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

const jsonLines = (text: string): Listed[] =>
  text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Listed);

/** Runs the CLI; fails with its output unless it exits 0. Human-readable runs are printed (docs/operations.md). */
async function cli(...args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  if (!args.includes('--json')) {
    const shown = args.map((a) => (a.startsWith('/tmp/') ? 'DIR' : a)).join(' ');
    console.log(`$ ucontact-webhooks ${shown}\n${r.stdout}`);
  }
  return r.stdout;
}

/** A receiver that answers `status()` (read at each request) and records the webhook-ids it got a 2xx for. */
async function switchable(status: () => number): Promise<{ rx: Receiver; ok: string[] }> {
  const ok: string[] = [];
  const rx = await startReceiver((req) => {
    const s = status();
    if (s < 300) ok.push(req.headers['webhook-id']!);
    return { status: s };
  });
  return { rx, ok };
}

const metric = async (port: number, name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

void describe('deliveries', () => {
  const env = useIntegrationEnv();

  void test(
    'with a running bridge: dead letters listed exactly, retried through the admin API with the same ' +
      'ids and no restart; a paused URL discarded and another resumed; writes need the token',
    async (t) => {
      const { src } = env;
      await src.reset();
      let broken = true;
      const hooks = await switchable(() => (broken ? 500 : 200));
      let backSoon = false;
      const paused = await switchable(() => (backSoon ? 200 : 410));
      const gone = await switchable(() => 410);
      t.after(() => Promise.all([hooks.rx.close(), paused.rx.close(), gone.rx.close()]));
      const U = hooks.rx.urlFor('/hooks?key=s3cr3t');
      const P = paused.rx.urlFor('/paused');
      const G = gone.rx.urlFor('/gone');
      await src.tx(setUrl('AgentBreak', U), [
        'INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?), (?, ?, ?)',
        ['dl-paused', 'AgentBreak', P, 'dl-gone', 'AgentBreak', G],
      ]);
      const stateDir = src.stateDir();
      const bridge = env.startBridge({ stateDir, args: ['--max-attempts', '1', '--gone-pause-ms', '600000'] });
      await bridge.waitReady();
      const port = bridge.httpPort();

      await src.tx(pauses(5));
      await waitFor(async () => (await metric(port, 'ucw_outbox_dead')) === 5, {
        timeoutMs: 30_000,
        message: 'five dead letters',
      });
      await waitFor(async () => (await metric(port, 'ucw_urls_paused')) === 2, { message: 'P and G paused' });

      // list --state dead --json: exactly the five, with the URL in its safe form.
      const dead = jsonLines(await cli('deliveries', 'list', '--state', 'dead', '--json', '--state-dir', stateDir));
      assert.equal(dead.length, 5);
      assert.deepEqual(new Set(dead.map((d) => d.url)), new Set([hooks.rx.urlFor('/hooks?[redacted]')]));
      for (const d of dead) {
        assert.equal(d.event, 'AgentBreak');
        assert.equal(d.attempts, 1);
        assert.equal(d.lastStatus, 500);
        assert.match(d.lastError ?? '', /^UCW_ERR_DELIVERY_EXHAUSTED: /);
      }
      const deadIds = dead.map((d) => d.id).sort((a, b) => a - b);
      const deadEventIds = dead.map((d) => d.eventId).sort();
      const table = await cli('deliveries', 'list', '--state', 'dead', '--state-dir', stateDir);
      assert.match(table, /^ID +STATE +EVENT +ATTEMPTS +CREATED +URL +LAST ERROR\n/);
      assert.equal(table.trim().split('\n').length, 6);
      assert.doesNotMatch(table, /s3cr3t/);
      const shown = await cli('deliveries', 'show', String(deadIds[0]), '--state-dir', stateDir);
      assert.match(shown, new RegExp(`^delivery ${deadIds[0]}: dead\n`));
      assert.match(shown, /"event": "AgentBreak"/, 'the event body is shown');

      // Without the token the write routes refuse (401); reads are open on loopback.
      const api = `http://127.0.0.1:${port}`;
      for (const path of ['/api/deliveries/retry', '/api/deliveries/discard', '/api/urls/resume']) {
        for (const auth of [{}, { authorization: 'Bearer not-the-token-0123456789' }] as Record<string, string>[]) {
          const headers = { ...auth, 'content-type': 'application/json' };
          const res = await fetch(`${api}${path}`, { method: 'POST', body: JSON.stringify({ url: U }), headers });
          assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
          await res.arrayBuffer();
        }
      }
      const read = await fetch(`${api}/api/deliveries?state=dead&limit=2`);
      assert.equal(read.status, 200);
      const readJson = (await read.json()) as { deliveries: Listed[] };
      assert.deepEqual(
        readJson.deliveries.map((d) => d.id),
        deadIds.slice(-2).reverse(),
      );
      assert.equal(await metric(port, 'ucw_outbox_dead'), 5, 'nothing changed by the refused requests');

      // The receiver is fixed; retry goes to the bridge, which sends the same deliveries again.
      broken = false;
      assert.equal(
        await cli('deliveries', 'retry', '--url', U, '--state-dir', stateDir),
        'requeued 5 deliveries (5 dead, 0 cancelled) with their ids and a fresh retry budget, by the running bridge\n',
      );
      await waitFor(() => hooks.ok.length === 5, {
        timeoutMs: 20_000,
        message: () => `${hooks.ok.length}/5 retried deliveries arrived`,
      });
      assert.deepEqual([...hooks.ok].sort(), deadEventIds, 'the same webhook-ids as the dead letters');
      const after = jsonLines(await cli('deliveries', 'list', '--url', U, '--json', '--state-dir', stateDir));
      assert.deepEqual(
        after.map((d) => [d.id, d.state]).sort((a, b) => Number(a[0]) - Number(b[0])),
        deadIds.map((id) => [id, 'delivered']),
        'the same delivery ids, now delivered',
      );
      assert.equal(await metric(port, 'ucw_outbox_dead'), 0);
      await cli('deliveries', 'list', '--url', U, '--since', '1h', '--limit', '3', '--state-dir', stateDir);
      assert.ok(bridge.logs.some((l) => l.msg.startsWith('deliveries requeued by the operator')));

      // discard the backlog of G (paused after 410) while the bridge runs: cancelled, never sent.
      const discarded = JSON.parse(
        await cli('deliveries', 'discard', '--url', G, '--json', '--state-dir', stateDir),
      ) as Record<string, unknown>;
      assert.equal(discarded.via, 'bridge');
      assert.equal(discarded.discarded, 5, 'all five wait for the pause to end: none in flight');

      // resume P now (its 410 pause has ~10 minutes left): its backlog goes at once.
      backSoon = true;
      const resumed = await cli('deliveries', 'resume', '--url', P, '--state-dir', stateDir);
      assert.equal(resumed, `resumed ${P} (was paused), by the running bridge\n`);
      await waitFor(() => paused.ok.length === 5, {
        timeoutMs: 20_000,
        message: () => `${paused.ok.length}/5 deliveries to the resumed URL`,
      });
      await waitFor(async () => (await metric(port, 'ucw_urls_paused')) === 1, { message: 'only G still paused' });

      // The bridge went on owning the store: new events are delivered and the store agrees with receivers.
      await src.tx(pauses(3));
      await waitFor(() => hooks.ok.length === 8 && paused.ok.length === 8, {
        timeoutMs: 20_000,
        message: () => `after the commands: ${hooks.ok.length}/8 to U, ${paused.ok.length}/8 to P`,
      });
      const all = jsonLines(await cli('deliveries', 'list', '--json', '--limit', '100', '--state-dir', stateDir));
      const count = (url: string, state: string): number =>
        all.filter((d) => d.url === url && d.state === state).length;
      assert.equal(count(hooks.rx.urlFor('/hooks?[redacted]'), 'delivered'), 8);
      assert.equal(count(P, 'delivered'), 8);
      assert.equal(count(G, 'cancelled'), 5);
      assert.equal(gone.ok.length, 0);
      assert.equal(bridge.logs.filter((l) => l.msg === 'bridge started').length, 1, 'never restarted');
      assert.equal(await bridge.stop(), 0);
    },
  );

  void test(
    'without a bridge: retry, discard and resume take the lock and change the store; ' +
      'the next bridge sends what was retried and resumed, with the same ids',
    async (t) => {
      const { src } = env;
      await src.reset();
      let broken = true;
      const hooks = await switchable(() => (broken ? 500 : 200));
      let back = false;
      const paused = await switchable(() => (back ? 200 : 410));
      t.after(() => Promise.all([hooks.rx.close(), paused.rx.close()]));
      const U = hooks.rx.urlFor('/offline');
      const P = paused.rx.urlFor('/offline-paused');
      await src.tx(setUrl('AgentBreak', U), [
        'INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?)',
        ['dl-paused', 'AgentBreak', P],
      ]);
      const stateDir = src.stateDir();
      const args = ['--max-attempts', '1', '--gone-pause-ms', '600000'];
      const first = env.startBridge({ stateDir, args });
      await first.waitReady();
      await src.tx(pauses(4));
      await waitFor(async () => (await metric(first.httpPort(), 'ucw_outbox_dead')) === 4, {
        timeoutMs: 30_000,
        message: 'four dead letters',
      });
      await waitFor(async () => (await metric(first.httpPort(), 'ucw_urls_paused')) === 1, { message: 'P paused' });
      assert.equal(await first.stop(), 0);

      const dead = jsonLines(await cli('deliveries', 'list', '--state', 'dead', '--json', '--state-dir', stateDir));
      assert.equal(dead.length, 4);
      const [keep, ...rest] = dead;
      // Retry three by id and discard nothing of U; one dead letter stays dead.
      const retried = JSON.parse(
        await cli('deliveries', 'retry', '--json', '--state-dir', stateDir, '--id', rest.map((d) => d.id).join(',')),
      ) as Record<string, unknown>;
      assert.deepEqual(retried, { via: 'store', requeued: 3, dead: 3, cancelled: 0 });
      const pendingNow = jsonLines(await cli('deliveries', 'list', '--url', U, '--json', '--state-dir', stateDir));
      assert.deepEqual(
        pendingNow.map((d) => [d.id, d.state, d.attempts]).sort((a, b) => Number(a[0]) - Number(b[0])),
        [...rest.map((d) => [d.id, 'pending', 0]), [keep!.id, 'dead', 1]].sort((a, b) => Number(a[0]) - Number(b[0])),
      );
      // Resume P: its saved pause is cleared; discard of an unknown URL changes nothing.
      assert.equal(
        await cli('deliveries', 'resume', '--url', P, '--state-dir', stateDir),
        `resumed ${P} (was paused), in the state store (no bridge running)\n`,
      );
      assert.match(
        await cli('deliveries', 'discard', '--url', 'http://nobody.test/', '--state-dir', stateDir),
        /^discarded 0 pending deliveries of http:\/\/nobody.test\/ .*no bridge running/,
      );
      // The dead-letters alias still works, and says it is deprecated.
      const alias = await runCli(['dead-letters', 'list', '--state-dir', stateDir]);
      assert.equal(alias.code, 0);
      assert.equal(
        alias.stderr,
        'ucontact-webhooks: dead-letters is deprecated; use `deliveries list --state dead --json`\n',
      );
      assert.deepEqual(
        jsonLines(alias.stdout).map((d) => d.id),
        [keep!.id],
      );

      broken = false;
      back = true;
      const second = env.startBridge({ stateDir, args });
      await second.waitReady();
      await waitFor(() => hooks.ok.length === 3 && paused.ok.length === 4, {
        timeoutMs: 20_000,
        message: () => `${hooks.ok.length}/3 retried to U, ${paused.ok.length}/4 to the resumed P`,
      });
      assert.deepEqual([...hooks.ok].sort(), rest.map((d) => d.eventId).sort(), 'the same webhook-ids');
      assert.equal(await second.stop(), 0);
    },
  );
});
