// `replay` against a real MariaDB and a real receiver: events regenerated from the binlog carry the
// ids they were delivered with, a dry run enqueues nothing, a URL registered later gets exactly the
// events it never had (through the running bridge's admin API, and into the store with the bridge
// stopped, delivered at its next start), and nothing already delivered is sent twice.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { runCli, type CliResult } from '../helpers/bridge-process.js';
import { parseReplay as parse } from '../helpers/replay-output.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { BINLOG_STATUS_SQL, queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

void describe('replay', () => {
  const env = useIntegrationEnv();

  void test('same ids; never-delivered pairs only, online and offline; from a position, GTID, time', async () => {
    const { src, rx } = env;
    const A = rx.urlFor('/a');
    const B = rx.urlFor('/b');
    const C = rx.urlFor('/c');
    await src.tx(
      "INSERT INTO ccdata.users (username, phone, name) VALUES ('jdoe', '2001', 'Jane Doe'), ('ann', '2002', 'Ann')",
      setUrl('AgentLog', A),
      setUrl('AgentBreak', A),
    );
    const stateDir = src.stateDir();
    const bridge = env.startBridge({ stateDir });
    await bridge.waitReady();
    const mysqlUrl = src.db.bridgeUrl;
    const replay = (...args: string[]): Promise<CliResult> =>
      runCli(['replay', '--mysql-url', mysqlUrl, '--state-dir', stateDir, ...args]);

    const [[status]] = await src.admin.query<RowDataPacket[]>(BINLOG_STATUS_SQL);
    const start = `${String(status!.File)}:${String(status!.Position)}`;
    const [[g]] = await src.admin.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS g');
    const [domain, server, seq] = String(g!.g).split('-').map(Number) as [number, number, number];
    const firstGtid = `${domain}-${server}-${seq + 1}`;

    // Phase 1, a new binlog file, then (a second later in binlog time) phase 2: replays cross the
    // rotation, and a time picks the newest file begun before it.
    await src.tx(queueLog({ time: '2026-03-02 09:00:00.000', event: 'AGENTLOGIN', agent: 'jdoe' }));
    await src.tx(queueLog({ time: '2026-03-02 09:10:00.000', event: 'PAUSE', agent: 'jdoe', data1: 'Lunch' }));
    await src.tx(queueLog({ time: '2026-03-02 09:20:00.000', event: 'UNPAUSE', agent: 'jdoe', data1: 'Lunch' }));
    await src.admin.query('FLUSH BINARY LOGS');
    const phase1Second = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > phase1Second, { timeoutMs: 3000 });
    const phase2At = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    const [[mid]] = await src.admin.query<RowDataPacket[]>(BINLOG_STATUS_SQL);
    const middle = `${String(mid!.File)}:${String(mid!.Position)}`;
    await src.tx(queueLog({ time: '2026-03-02 10:00:00.000', event: 'AGENTLOGIN', agent: 'ann' }));
    const loginSecond = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > loginSecond, { timeoutMs: 3000 });
    const logoffsAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    await src.tx(
      queueLog({ time: '2026-03-02 10:30:00.000', event: 'AGENTLOGOFF', agent: 'ann' }),
      queueLog({ time: '2026-03-02 10:30:01.000', event: 'AGENTLOGOFF', agent: 'jdoe' }),
    );
    await waitFor(() => rx.requests.filter((r) => r.path === '/a').length === 6 || undefined, { timeoutMs: 15_000 });
    const delivered = new Map(
      rx.requests.map((r) => [r.headers['webhook-id']!, JSON.parse(r.body) as { event?: string }]),
    );
    assert.equal(delivered.size, 6);

    // (a) A dry run regenerates exactly the delivered ids, all skipped as delivered.
    const dry = parse(await replay('--from', start, '--dry-run', '--json'));
    assert.deepEqual(new Set(dry.lines.map((l) => l.eventId)), new Set(delivered.keys()));
    assert.ok(dry.lines.every((l) => l.action === 'skip' && l.reason === 'delivered' && l.url === A));
    assert.equal(dry.summary.enqueue, 0);
    assert.equal(dry.summary.skipped.delivered, 6);
    // From the first transaction's GTID: the same.
    const byGtid = parse(await replay('--from', firstGtid, '--dry-run', '--json'));
    assert.deepEqual(
      byGtid.lines.map((l) => l.eventId),
      dry.lines.map((l) => l.eventId),
    );
    // (d) From a time: only phase 2, the same ids as from the position between the phases.
    const byTime = parse(await replay('--from', phase2At, '--dry-run', '--json'));
    assert.notEqual(middle.split(':')[0], start.split(':')[0], 'phase 2 is in a new binlog file');
    assert.equal(byTime.summary.from, `${middle.split(':')[0]}:4`, 'read from the start of the newest file before it');
    const byMiddle = parse(await replay('--from', middle, '--dry-run', '--json'));
    assert.equal(byMiddle.lines.length, 3);
    assert.deepEqual(
      byTime.lines.map((l) => l.eventId),
      byMiddle.lines.map((l) => l.eventId),
    );
    // Mid-file: the file is read from its start and the transactions before that second are skipped.
    const byLaterTime = parse(await replay('--from', logoffsAt, '--dry-run', '--json'));
    assert.deepEqual(
      byLaterTime.lines.map((l) => l.eventId),
      byMiddle.lines.slice(1).map((l) => l.eventId),
    );
    // --to ends the range at a position, after a GTID's transaction, or after a time (second precision).
    const phase1 = dry.lines.slice(0, 3).map((l) => l.eventId);
    const lastOfPhase1 = `${domain}-${server}-${seq + 3}`;
    for (const to of [middle, lastOfPhase1, new Date(Date.parse(phase2At) - 1000).toISOString()]) {
      const upTo = parse(await replay('--from', start, '--to', to, '--dry-run', '--json'));
      assert.deepEqual(
        upTo.lines.map((l) => l.eventId),
        phase1,
        `--to ${to}`,
      );
    }
    // --force selects every pair, delivered or not (dry run: nothing changes).
    const forced = parse(await replay('--from', start, '--dry-run', '--json', '--force'));
    assert.equal(forced.summary.enqueue, 6);

    // (b, c online) B registered later for AgentLog: through the running bridge it gets only the
    // AgentLog events, with the same ids; A gets nothing again.
    await src.tx(["INSERT INTO ccdata.webhooks (name, event, url) VALUES ('late-b', 'AgentLog', ?)", [B]]);
    const agentLogIds = [...delivered].filter(([, b]) => b.event === 'AgentLog').map(([id]) => id);
    assert.equal(agentLogIds.length, 4);
    const online = parse(await replay('--from', start, '--json', '--url', B));
    assert.equal(online.summary.via, 'bridge');
    assert.equal(online.summary.enqueue, 4);
    await waitFor(() => rx.requests.filter((r) => r.path === '/b').length === 4 || undefined, { timeoutMs: 15_000 });
    const toB = rx.requests.filter((r) => r.path === '/b').map((r) => r.headers['webhook-id']);
    assert.deepEqual(new Set(toB), new Set(agentLogIds));
    const again = parse(await replay('--from', start, '--json', '--url', B));
    assert.equal(again.summary.enqueue, 0);
    assert.equal(again.summary.skipped.delivered + again.summary.skipped.pending, 4);

    // (b, c offline) With the bridge stopped, C registered for AgentBreak: the replay writes the store
    // under its lock; the next start delivers them.
    await bridge.stop();
    await src.tx(["INSERT INTO ccdata.webhooks (name, event, url) VALUES ('late-c', 'AgentBreak', ?)", [C]]);
    const offline = parse(await replay('--from', start, '--json', '--url', C));
    assert.equal(offline.summary.via, 'store');
    assert.equal(offline.summary.enqueue, 2);
    assert.equal(rx.requests.filter((r) => r.path === '/c').length, 0);
    const restarted = env.startBridge({ stateDir });
    await restarted.waitReady();
    await waitFor(() => rx.requests.filter((r) => r.path === '/c').length === 2 || undefined, { timeoutMs: 15_000 });
    const breakIds = [...delivered].filter(([, b]) => b.event === 'AgentBreak').map(([id]) => id);
    assert.deepEqual(
      new Set(rx.requests.filter((r) => r.path === '/c').map((r) => r.headers['webhook-id'])),
      new Set(breakIds),
    );
    // No second delivery of anything: A 6, B 4, C 2, each id once per path.
    const perPath = (p: string): string[] =>
      rx.requests.filter((r) => r.path === p).map((r) => r.headers['webhook-id']!);
    assert.equal(perPath('/a').length, 6);
    assert.equal(perPath('/b').length, 4);
    assert.equal(new Set(perPath('/a')).size, 6);
    await restarted.stop();
  });

  void test('refuses an unregistered --url, a bad or missing --from (exit 2, nothing read)', async () => {
    const { src } = env;
    const stateDir = src.stateDir();
    const bridge = env.startBridge({ stateDir });
    await bridge.waitReady();
    await bridge.stop();
    const base = ['replay', '--mysql-url', src.db.bridgeUrl, '--state-dir', stateDir];
    const url = await runCli([...base, '--from', 'x.000001:4', '--url', 'http://nowhere.test/x']);
    assert.equal(url.code, 2);
    assert.match(url.stderr, /UCW_ERR_CONFIG_INVALID: --url http:\/\/nowhere\.test\/x is not registered/);
    const from = await runCli([...base, '--from', 'yesterday']);
    assert.equal(from.code, 2);
    assert.match(from.stderr, /UCW_ERR_CONFIG_INVALID: --from "yesterday"/);
    const none = await runCli(base);
    assert.equal(none.code, 2);
    assert.equal(none.stderr.split('\n')[0], 'ucontact-webhooks: UCW_ERR_CONFIG_INVALID: --from is required');
  });
});
