// Registrations in ccdata.webhooks take effect at the binlog position of their change, with no
// restart: an event committed before a change goes to the old URL, one committed after to the new.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const login = (agent: string, second: number): [string, unknown[]] =>
  queueLog({ time: `2026-03-02 10:00:${String(second).padStart(2, '0')}.000`, event: 'AGENTLOGIN', agent });

void describe('hot registration', () => {
  const env = useIntegrationEnv();
  let bridge: BridgeProcess;

  void test('a URL set, changed and cleared mid-stream applies from its own transaction on', async () => {
    const { src, rx } = env;
    await src.tx(setUrl('AgentBreak', rx.urlFor('/marker')));
    bridge = env.startBridge();
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
        .map((r) => (JSON.parse(r.body) as { agent: string }).agent)
        .sort();
    assert.deepEqual(agents('/v1'), ['b-v1', 'c-v1']);
    assert.deepEqual(agents('/v2'), ['d-v2', 'e-v2-extra']);
    assert.deepEqual(agents('/extra'), ['e-v2-extra']);
    assert.equal(rx.requests.length, 6, rx.requests.map((r) => `${r.path} ${r.body}`).join('\n'));
  });

  void test('a bad row is reported once with its id and skipped; the others keep working', async () => {
    const { src, rx } = env;
    rx.clear();
    await src.tx([
      "INSERT INTO ccdata.webhooks (name, event, url) VALUES ('bad', 'AgentLog', 'ftp://example.invalid/x')",
      [],
    ]);
    await src.tx(setUrl('AgentLog', rx.urlFor('/good')));
    await src.tx(login('h-good', 8));
    await src.tx(login('i-good', 9));
    await waitFor(() => rx.requests.filter((r) => r.path === '/good').length === 2, {
      message: 'good URL did not receive',
    });
    const reports = bridge.logs.filter((l) => l.code === 'UCW_ERR_REGISTRY_BAD_ROW');
    assert.equal(reports.length, 1, JSON.stringify(reports));
    assert.match(reports[0]!.msg, /scheme ftp: is not http or https/);
    assert.equal(typeof reports[0]!.rowId, 'string');
  });
});
