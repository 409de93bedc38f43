// Registrations in ccdata.webhooks take effect at the binlog position of their change, with no
// restart: an event committed before a change goes to the old URL, one committed after to the new.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { scrape } from '../helpers/metrics-text.js';
import { runCli } from '../helpers/bridge-process.js';
import { agentOf } from '../helpers/bodies.js';

const login = (agent: string, second: number): [string, unknown[]] =>
  queueLog({ time: `2026-03-02 10:00:${String(second).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent });

void describe('hot registration', () => {
  const env = useIntegrationEnv();

  void test('a URL set, changed and cleared mid-stream applies from its own transaction on', async () => {
    const { src, rx } = env;
    await src.tx(setUrl('AgentBreak', rx.urlFor('/marker')));
    const bridge = env.startBridge();
    await bridge.waitReady();

    await src.tx(login('a-unregistered', 1));
    await src.tx(setUrl('AgentLog', rx.urlFor('/v1')));
    await src.tx(login('b-v1', 2));
    // One transaction: an event, the change, another event. The change splits them.
    await src.tx(login('c-v1', 3), setUrl('AgentLog', rx.urlFor('/v2')), login('d-v2', 4));
    // A second row for the same event: both URLs get it.
    await src.tx([
      "INSERT INTO ccdata.webhooks (name, event, url) VALUES ('extra', 'AgentLog', ?)",
      [rx.urlFor('/extra')],
    ]);
    await src.tx(login('e-v2-extra', 5));
    await src.tx("DELETE FROM ccdata.webhooks WHERE name = 'extra'");
    await src.tx(setUrl('AgentLog', null));
    await src.tx(login('f-cleared', 6));
    await src.tx(setUrl('AgentLog', ''));
    await src.tx(login('g-empty', 7));
    await src.tx(queueLog({ time: '2026-03-02 10:01:00.000', event: 'PAUSE', agent: 'marker', data1: 'done' }));

    await waitFor(() => rx.requests.some((r) => r.path === '/marker'), { message: 'marker never arrived' });
    const agents = (path: string): string[] =>
      rx.requests
        .filter((r) => r.path === path)
        .map((r) => agentOf(r.body))
        .sort();
    assert.deepEqual(agents('/v1'), ['b-v1', 'c-v1']);
    assert.deepEqual(agents('/v2'), ['d-v2', 'e-v2-extra']);
    assert.deepEqual(agents('/extra'), ['e-v2-extra']);
    assert.equal(rx.requests.length, 6, rx.requests.map((r) => `${r.path} ${r.body}`).join('\n'));
    assert.equal(await bridge.stop(), 0);
  });

  void test('a bad row is reported once with its id and skipped; the others keep working', async () => {
    const { src, rx } = env;
    rx.clear();
    // Its own registrations, bridge and state: nothing of the test above is relied on.
    await src.tx(setUrl('AgentBreak', rx.urlFor('/marker')));
    const bridge = env.startBridge();
    await bridge.waitReady();
    await src.tx([
      "INSERT INTO ccdata.webhooks (name, event, url) VALUES ('bad', 'AgentLog', 'ftp://example.invalid/x')",
      [],
    ]);
    await src.tx(setUrl('AgentLog', rx.urlFor('/good')));
    await src.tx(login('h-good', 8));
    await src.tx(login('i-good', 9));
    await src.tx(queueLog({ time: '2026-03-02 10:02:00.000', event: 'PAUSE', agent: 'marker', data1: 'done' }));
    // Wait for the marker (committed last) as well: an extra to /good by then is counted.
    await waitFor(
      () => rx.requests.some((r) => r.path === '/marker') && rx.requests.filter((r) => r.path === '/good').length >= 2,
      { message: () => `marker and 2 to /good not seen: ${rx.requests.map((r) => r.path).join(' ')}` },
    );
    assert.deepEqual(
      rx.requests.filter((r) => r.path === '/good').map((r) => agentOf(r.body)),
      ['h-good', 'i-good'],
    );
    const reports = bridge.logs.filter((l) => l.code === 'UCW_ERR_REGISTRY_BAD_ROW');
    assert.equal(reports.length, 1, JSON.stringify(reports));
    assert.match(reports[0]!.msg, /scheme ftp: is not http or https/);
    assert.equal(typeof reports[0]!.rowId, 'string');
    assert.equal(await bridge.stop(), 0);
  });

  void test('URL query strings and credentials never appear in logs, /metrics, /readyz or the CLI', async () => {
    const { src, rx } = env;
    const TOKEN = 'tok-3f9a1c-secret';
    const USER = 'user-7b2e';
    const PASS = 'pass-9d4c-secret';
    rx.clear();
    await src.reset();
    const port = new URL(rx.url).port;
    // One URL with a token in its query (answered 500 once: retry logs name it, then 400: a dead
    // letter), one with credentials (refused as a bad row, logged with the row).
    await src.tx(
      setUrl('AgentLog', `${rx.urlFor('/tok')}?token=${TOKEN}`),
      setUrl('AgentBreak', `http://${USER}:${PASS}@127.0.0.1:${port}/cred?token=${TOKEN}`),
    );
    rx.setResponder((req, nth) => (nth === 1 ? { status: 500, body: req.path } : { status: 400, body: req.path }));
    const stateDir = src.stateDir();
    const bridge = env.startBridge({ stateDir });
    await bridge.waitReady();
    await src.tx(login('sec', 10));
    await bridge.waitForLog((l) => l.msg === 'delivery dead-lettered (kept in the outbox)', 'dead letter');
    await bridge.waitForLog((l) => l.code === 'UCW_ERR_REGISTRY_BAD_ROW', 'credentials refused');
    assert.ok(bridge.logs.some((l) => l.msg === 'delivery failed; will retry'));
    assert.equal(rx.requests[0]!.path, `/tok?token=${TOKEN}`, 'the receiver itself gets its token');
    const metrics = await scrape(bridge.httpPort());
    const ready = await (await fetch(`http://127.0.0.1:${bridge.httpPort()}/readyz`)).text();
    assert.equal(await bridge.stop(), 0);
    const listed = await runCli(['dead-letters', 'list', '--state-dir', stateDir]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /\/tok\?\[redacted\]/, 'the dead letter names its URL, redacted');

    const outputs = {
      logs: JSON.stringify(bridge.logs),
      stderr: bridge.stderr.join(''),
      metrics,
      readyz: ready,
      'dead-letters list': listed.stdout + listed.stderr,
    };
    for (const [where, text] of Object.entries(outputs))
      for (const secret of [TOKEN, USER, PASS]) assert.ok(!text.includes(secret), `${secret} in ${where}`);
  });
});
