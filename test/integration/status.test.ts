// `status` while a bridge runs (its GET /api/status, live figures) and after it stops (the store read
// read-only): the same counts per URL, a failing URL with its last error, and with --mysql-url the
// server's head, lag and retention headroom against the stored checkpoint.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Receiver } from '../../demo/receiver.js';
import type { StatusSnapshot, UrlStatus } from '../../src/ops/status-types.js';
import { runCli, type BridgeProcess } from '../helpers/bridge-process.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const at = (s: number): string => `2026-03-02 12:00:${String(s).padStart(2, '0')}.000`;

async function status(stateDir: string, ...extra: string[]): Promise<StatusSnapshot> {
  const r = await runCli(['status', '--state-dir', stateDir, '--json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusSnapshot;
}

const counts = (u: UrlStatus | undefined): unknown =>
  u && { pending: u.pending, retrying: u.retrying, dead: u.dead, cancelled: u.cancelled };

void describe('status', () => {
  const env = useIntegrationEnv();
  let src: SourceFixture;
  let rx: Receiver;
  let bridge: BridgeProcess;
  let stateDir: string;
  let logUrl: string;
  let breakUrl: string;
  let running: StatusSnapshot;

  before(async () => {
    ({ src, rx } = env);
    await src.reset();
    logUrl = rx.urlFor('/log');
    breakUrl = rx.urlFor('/break?token=s3cr3t');
    // /log accepts all but agent "dead" (400: a dead letter); /break always answers 500.
    rx.setResponder((req) =>
      req.path.startsWith('/break')
        ? { status: 500, body: 'receiver down' }
        : req.body.includes('"dead"')
          ? { status: 400, body: 'no' }
          : { status: 200 },
    );
    await src.tx(setUrl('AgentLog', logUrl), setUrl('AgentBreak', breakUrl));
    stateDir = src.stateDir();
    bridge = env.startBridge({ stateDir, args: ['--max-attempts', '1000'] });
    await bridge.waitReady();
    await src.tx(queueLog({ time: at(1), event: 'AGENTLOGIN', agent: 'ann' }));
    await src.tx(queueLog({ time: at(2), event: 'AGENTLOGIN', agent: 'dead' }));
    await src.tx(queueLog({ time: at(3), event: 'PAUSE', agent: 'bob', data1: 'Lunch' }));
  });
  after(() => bridge.stop());

  void test('while the bridge runs: its live view, with the failing URL and its last error', async () => {
    running = await waitFor(
      async () => {
        const s = await status(stateDir);
        const b = s.urls.find((u) => u.url.includes('/break'));
        const l = s.urls.find((u) => u.url.includes('/log'));
        return b?.state === 'failing' && b.lastError && l?.dead === 1 && l.lastSuccessAt ? s : undefined;
      },
      { timeoutMs: 30_000, message: 'status never showed /break failing and /log with its dead letter' },
    );
    assert.equal(running.from, 'bridge');
    assert.equal(running.source.connected, true);
    const cp = running.source.checkpoint!;
    assert.match(cp.file, /\.\d{6}$/);
    assert.ok(cp.position > 0);
    assert.ok(cp.commitTime && Date.now() - Date.parse(cp.commitTime) < 120_000, `commit time ${cp.commitTime}`);
    const b = running.urls.find((u) => u.url.includes('/break'))!;
    assert.equal(b.url, `${rx.url}/break?[redacted]`, 'no token in the status');
    assert.deepEqual(counts(b), { pending: 1, retrying: 1, dead: 0, cancelled: 0 });
    assert.equal(b.lastError!.status, 500);
    assert.match(b.lastError!.message, /500/);
    assert.ok(b.pausedUntil, 'a failing URL says until when it waits');
    assert.ok(b.oldestPendingAgeSeconds !== undefined);
    const l = running.urls.find((u) => u.url.includes('/log'))!;
    assert.deepEqual(counts(l), { pending: 0, retrying: 0, dead: 1, cancelled: 0 });
    assert.equal(l.state, 'ok');
    assert.equal(running.deadLetters.length, 1);
    assert.equal(running.deadLetters[0]!.event, 'AgentLog');
    // The bridge's own read of the server (sampled at start): head and lag are known.
    assert.ok(running.source.serverHead, 'server head from the running bridge');
    assert.equal(typeof running.source.lagBytes, 'number');

    const text = await runCli(['status', '--state-dir', stateDir]);
    assert.equal(text.code, 0, text.stderr);
    process.stdout.write(`# status (running bridge):\n${text.stdout.replace(/^/gm, '#   ')}\n`);
    assert.match(text.stdout, /from the running bridge/);
    assert.match(text.stdout, /connected\s+yes/);
    assert.match(text.stdout, /\/break\?\[redacted\]\s+failing until \S+\s+1\s+\d\s+1\s+0\s+0\s.*: 500 /);
    assert.match(text.stdout, /Latest dead letters \(1\)/);
    assert.doesNotMatch(text.stdout, /s3cr3t/);

    const metrics = await (await fetch(`http://127.0.0.1:${bridge.httpPort()}/metrics`)).text();
    assert.match(metrics, /^ucw_source_lag_bytes \d+$/m);
    // The private server purges nothing by default (expire_logs_days=0): unlimited headroom.
    assert.match(metrics, /^ucw_binlog_retention_headroom_seconds \+Inf$/m);
  });

  void test('after the bridge stops: the same counts read from the store', async () => {
    assert.ok(running, 'needs the first test');
    assert.equal(await bridge.stop(), 0);
    const stored = await status(stateDir);
    assert.equal(stored.from, 'store');
    assert.equal(stored.source.connected, undefined);
    assert.equal(stored.source.serverHead, undefined, 'no server asked without --mysql-url');
    for (const u of running.urls) assert.deepEqual(counts(stored.urls.find((s) => s.url === u.url)), counts(u), u.url);
    const b = stored.urls.find((u) => u.url.includes('/break'))!;
    assert.equal(b.state, 'ok', 'failing is a live state; the store has no such thing');
    assert.equal(b.lastError!.status, 500);
    assert.deepEqual(stored.deadLetters, running.deadLetters);
    const text = await runCli(['status', '--state-dir', stateDir]);
    assert.equal(text.code, 0, text.stderr);
    process.stdout.write(`# status (bridge stopped):\n${text.stdout.replace(/^/gm, '#   ')}\n`);
    assert.match(text.stdout, /from the state store \(no bridge running\)/);
    assert.match(
      text.stdout,
      /\/break\?\[redacted\]\s+ok\s+1\s+0\s+1\s+0\s+0\s.*: 500 UCW_ERR_DELIVERY_HTTP_STATUS: .*receiver down/,
    );
  });

  void test('--mysql-url: head, lag in bytes and seconds, retention headroom', async () => {
    assert.ok(running, 'needs the first test');
    const caughtUp = await status(stateDir, '--mysql-url', src.db.bridgeUrl);
    assert.ok(caughtUp.source.serverHead);
    assert.equal(caughtUp.source.lagBytes, 0, JSON.stringify(caughtUp.source));
    assert.equal(caughtUp.source.lagSeconds, 0);
    assert.equal(caughtUp.source.retentionHeadroomSeconds, undefined, 'nothing purges');
    assert.ok(caughtUp.source.sampledAt);
    // Written while no bridge reads: the checkpoint is behind by exactly what the head moved.
    await src.tx(queueLog({ time: at(4), event: 'AGENTLOGIN', agent: 'cid' }));
    const behind = await status(stateDir, '--mysql-url', src.db.bridgeUrl);
    const moved = behind.source.serverHead!.position - caughtUp.source.serverHead.position;
    assert.ok(moved > 0);
    assert.equal(behind.source.lagBytes, moved);
    assert.ok(behind.source.lagSeconds! >= 0 && behind.source.lagSeconds! < 300, `${behind.source.lagSeconds}`);
  });

  void test(
    '--mysql-url with binlog expiry: headroom is the expiry in the head file, less the time since commit after it',
    { skip: privateServerOnly('sets binlog_expire_logs_seconds globally and rotates the binlog') },
    async () => {
      assert.ok(running, 'needs the first test');
      await src.db.exec('SET GLOBAL binlog_expire_logs_seconds = 86400');
      try {
        const inHead = await status(stateDir, '--mysql-url', src.db.bridgeUrl);
        assert.equal(inHead.source.retention?.expireSeconds, 86_400);
        assert.equal(inHead.source.retentionHeadroomSeconds, 86_400);
        await src.db.exec('FLUSH BINARY LOGS');
        const rotated = await status(stateDir, '--mysql-url', src.db.bridgeUrl);
        assert.notEqual(rotated.source.serverHead!.file, rotated.source.checkpoint!.file);
        const since = (Date.now() - Date.parse(rotated.source.checkpoint!.commitTime!)) / 1000;
        const h = rotated.source.retentionHeadroomSeconds!;
        assert.ok(h <= 86_400 - since + 2 && h >= 86_400 - since - 5, `headroom ${h}, ${since} s since commit`);
        assert.ok(rotated.source.lagBytes! > 0);
        const text = await runCli(['status', '--state-dir', stateDir, '--mysql-url', src.db.bridgeUrl]);
        process.stdout.write(`# status --mysql-url (bridge stopped):\n${text.stdout.replace(/^/gm, '#   ')}\n`);
        assert.match(text.stdout, /retention headroom\s+23 h 5\d min \(expiry 24 h\)/);
      } finally {
        await src.db.exec('SET GLOBAL binlog_expire_logs_seconds = 0');
      }
    },
  );

  void test('--help', async () => {
    const r = await runCli(['status', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--state-dir/);
    assert.match(r.stdout, /--mysql-url/);
    assert.match(r.stdout, /--json/);
  });
});
