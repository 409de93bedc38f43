// One state directory, one bridge: offline commands run against a live bridge's state directory
// must not destroy its work (`dead-letters list` reads only), a second `run` on the same directory
// stops at once with UCW_ERR_STATE_LOCKED, and `dead-letters retry` goes through the running bridge.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { Ledger, Traffic, whileAlive, Writer } from '../helpers/fault-kit.js';

const ROWS = 20_000;
const AGENTS = 200;

void describe('faults: state directory shared with offline commands', () => {
  const env = useIntegrationEnv();

  void test(
    `a ${ROWS}-row transaction staged in parts while \`dead-letters ` +
      `list\` runs again and again: every event delivered`,
    async () => {
      const { src, rx } = env;
      await src.reset();
      const ledger = new Ledger('/staged');
      rx.setResponder(ledger.responder());
      await src.tx(setUrl('AgentLog', rx.urlFor('/staged')), setUrl('AgentBreak', rx.urlFor('/staged')));
      const stateDir = src.stateDir();
      // Parts of 100 rows: the transaction is staged in 200 parts before its commit is read.
      const bridge = env.startBridge({ stateDir, args: ['--log-level', 'info', '--max-queued-rows', '400'] });
      await bridge.waitReady();

      let lists = 0;
      let listing = true;
      const failures: string[] = [];
      const lister = (async () => {
        while (listing) {
          const r = await runCli(['dead-letters', 'list', '--state-dir', stateDir]);
          lists++;
          if (r.code !== 0) failures.push(`exit ${r.code}: ${r.stderr.slice(0, 300)}`);
        }
      })();

      const writer = new Writer(src.db.adminUrl, ledger);
      const rows = new Traffic().rows(ROWS, (i) => `agent${i % AGENTS}`);
      assert.equal(await writer.tx(rows, { statements: 20 }), 'committed');
      await writer.close();
      try {
        await whileAlive(
          bridge,
          waitFor(() => ledger.complete(), {
            timeoutMs: 40_000,
            intervalMs: 250,
            message: () => `${ledger.delivered}/${ROWS} delivered while \`dead-letters list\` ran ${lists} times`,
          }),
        );
      } finally {
        listing = false;
        await lister;
      }
      console.log(`state-dir: ${ROWS} rows delivered while \`dead-letters list\` ran ${lists} times`);
      assert.ok(lists >= 3, `dead-letters list ran only ${lists} times`);
      assert.deepEqual(failures, []);
      ledger.assertAllInOrder();
      assert.equal(ledger.duplicates, 0);
      await bridge.stop();
    },
  );

  void test(
    'a second `run` on the same state directory stops at ' + 'once with UCW_ERR_STATE_LOCKED; the first keeps running',
    async () => {
      const { src } = env;
      const stateDir = src.stateDir();
      const first = env.startBridge({ stateDir });
      await first.waitReady();
      const second = env.startBridge({ stateDir });
      // No wall-clock figure (a shared machine): that the lock is refused without a busy wait is
      // state-lock.test's; here, the exit within the bound, with the code, and no retry on the way.
      assert.equal(await second.waitExit(), 1);
      assert.ok(!second.logs.some((l) => /retry|reconnecting/.test(l.msg)), JSON.stringify(second.logs));
      const stderr = second.stderr.join('');
      assert.match(stderr, /UCW_ERR_STATE_LOCKED/);
      assert.ok(stderr.includes(stateDir), `the error names the directory: ${stderr}`);
      assert.ok(stderr.includes(`pid ${first.pid}`), `the error names the holder's pid: ${stderr}`);
      assert.equal(
        second.logs.some((l) => l.msg === 'bridge started'),
        false,
      );
      // The first bridge still answers and still holds the directory.
      await first.waitReady();
      assert.equal(
        first.logs.some((l) => l.msg === 'stopped'),
        false,
      );
      const third = await runCli(['run', '--mysql-url', src.db.bridgeUrl, '--state-dir', stateDir, '--http-port', '0']);
      assert.equal(third.code, 1);
      assert.match(third.stderr, /UCW_ERR_STATE_LOCKED/);
      assert.equal(await first.stop(), 0);
    },
  );

  void test(
    '`dead-letters retry` (deprecated) goes through the running bridge, which sends it again with the ' +
      'same webhook-id; with the bridge stopped it takes the lock',
    async () => {
      const { src, rx } = env;
      await src.reset();
      rx.clear();
      const stateDir = src.stateDir();
      rx.setResponder(() => ({ status: 500 }));
      await src.tx(setUrl('AgentLog', rx.urlFor('/dead')));
      const bridge = env.startBridge({ stateDir, args: ['--max-attempts', '1'] });
      await bridge.waitReady();
      const writer = new Writer(src.db.adminUrl, new Ledger('/dead'));
      assert.equal(
        await writer.tx(new Traffic().rows(2, () => 'agentd').filter((r) => r.event === 'AGENTLOGIN')),
        'committed',
      );
      await writer.close();
      const listed = await waitFor(async () => {
        const r = await runCli(['dead-letters', 'list', '--state-dir', stateDir]);
        return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim().split('\n') : undefined;
      });
      assert.equal(listed.length, 1);

      const online = await runCli(['dead-letters', 'retry', '--state-dir', stateDir]);
      assert.equal(online.code, 0, online.stderr);
      assert.equal(online.stderr, 'ucontact-webhooks: dead-letters is deprecated; use `deliveries retry --all`\n');
      assert.match(online.stdout, /^requeued 1 deliveries \(1 dead, 0 cancelled\) .*, by the running bridge\n$/);
      // Still 500 with --max-attempts 1: the bridge sends it once more (same webhook-id) and it dies again.
      await waitFor(() => rx.requests.filter((r) => r.path === '/dead').length === 2, {
        message: () => `${rx.requests.length} requests to /dead`,
      });
      const [first, second] = rx.requests.filter((r) => r.path === '/dead');
      assert.equal(second!.headers['webhook-id'], first!.headers['webhook-id']);
      await waitFor(
        () => bridge.logs.filter((l) => l.msg === 'delivery dead-lettered (kept in the outbox)').length === 2,
        { message: 'dead-lettered again' },
      );

      assert.equal(await bridge.stop(), 0);
      const retried = await runCli(['dead-letters', 'retry', '--state-dir', stateDir]);
      assert.equal(retried.code, 0, retried.stderr);
      assert.match(retried.stdout, /^requeued 1 deliveries .*, in the state store \(no bridge running\)\n$/);
      const after = await runCli(['dead-letters', 'list', '--state-dir', stateDir]);
      assert.equal(after.code, 0, after.stderr);
      assert.equal(after.stdout, '');
    },
  );
});
