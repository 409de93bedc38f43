// Per-receiver settings end to end (a config file's receivers section, the built CLI, a private
// MariaDB, a recording receiver): two receivers with their own secrets each verify with the official
// standardwebhooks package and reject the other's, rotation on one, a URL without an entry signed with
// the global secret; static headers arrive; a rate-limited URL's arrivals keep its rate and per-agent
// order; nothing secret in logs, /metrics or `config print`; a protocol header refused at start.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { RecordedRequest } from '../../demo/receiver.js';
import { CLI, startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const key = (text: string): string => `whsec_${Buffer.from(text).toString('base64')}`;
const CRM_SECRET = key('crm receiver key, 32 bytes long!');
const INTERNAL_NEW = key('internal key (new), 32 bytes ok!');
const INTERNAL_OLD = key('internal key (old), 32 bytes ok!');
const GLOBAL_SECRET = key('global bridge key of 32 bytes!!!');
const CRM_TOKEN = 'Bearer crm-token-7f3a9c1e5b2d';
const STATIC_VALUE = 'static-header-value-91ac';
const SECRETS = [CRM_SECRET, INTERNAL_NEW, INTERNAL_OLD, GLOBAL_SECRET, CRM_TOKEN, STATIC_VALUE];
const RATE = 20;

/** `node dist/cli.js ...args`: exit code, stdout, stderr. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

const verifies = (secret: string, r: RecordedRequest): boolean => {
  try {
    new Webhook(secret).verify(r.body, r.headers);
    return true;
  } catch (err) {
    assert.ok(err instanceof WebhookVerificationError, String(err));
    return false;
  }
};

void describe('per-receiver settings', () => {
  const env = useIntegrationEnv();
  let dir = '';
  let configPath = '';
  let bridge: BridgeProcess | undefined;
  const secretEnv = { UCW_SIGNING_SECRET: GLOBAL_SECRET, T_CRM_SECRET: CRM_SECRET, T_CRM_TOKEN: CRM_TOKEN };
  const writeConfig = (name: string, value: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value, null, 2), { mode: 0o600 });
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-receiver-settings-'));
    const { src, rx } = env;
    configPath = writeConfig('config.json', {
      receivers: [
        {
          name: 'crm',
          url: rx.urlFor('/crm'),
          signingSecrets: [{ env: 'T_CRM_SECRET' }],
          headers: { Authorization: { env: 'T_CRM_TOKEN' }, 'X-Static': STATIC_VALUE },
          rateLimitPerSecond: RATE,
        },
        { name: 'internal', urlPrefix: rx.urlFor('/internal/'), signingSecrets: [INTERNAL_NEW, INTERNAL_OLD] },
      ],
    });
    await src.tx(
      setUrl('AgentLog', rx.urlFor('/crm')),
      setUrl('AgentBreak', rx.urlFor('/internal/break')),
      setUrl('FinishInteraction', rx.urlFor('/other')),
    );
    bridge = env.startBridge({
      args: ['--config', configPath, '--envelope-url-prefix', rx.urlFor('/other')],
      env: secretEnv,
    });
    await bridge.waitReady();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('each receiver verifies its own and rejects the others; rotation; the global fallback', async () => {
    const { src, rx } = env;
    rx.clear();
    await src.tx(queueLog({ time: '2026-03-02 14:06:00.000', event: 'AGENTLOGIN', agent: 'sig' }));
    await src.tx(queueLog({ time: '2026-03-02 14:10:00.000', event: 'PAUSE', agent: 'sig', data1: 'Lunch' }));
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, channel, agent, clientId, ' +
        "finished) VALUES ('rs1', '2026-03-02 14:30:00', '2026-03-02 14:32:05', 'Sales<-', 'telephony', " +
        "'sig', '59891234567', 1)",
    );
    await waitFor(() => rx.requests.length >= 3, { message: () => `only ${rx.requests.length} of 3 requests` });
    const at = (path: string): RecordedRequest => rx.requests.find((r) => r.path === path)!;
    const crm = at('/crm');
    const internal = at('/internal/break');
    const other = at('/other');

    assert.ok(verifies(CRM_SECRET, crm), 'the CRM verifies its own');
    assert.ok(!verifies(INTERNAL_NEW, crm) && !verifies(INTERNAL_OLD, crm) && !verifies(GLOBAL_SECRET, crm));
    assert.equal(crm.headers['webhook-signature']!.split(' ').length, 1);

    // Rotation: two secrets, one signature each; the receiver verifies with either alone.
    assert.equal(internal.headers['webhook-signature']!.split(' ').length, 2);
    assert.ok(verifies(INTERNAL_NEW, internal) && verifies(INTERNAL_OLD, internal));
    assert.ok(!verifies(CRM_SECRET, internal) && !verifies(GLOBAL_SECRET, internal), 'the CRM cannot forge it');

    // No entry: the global secret, and the deprecated --envelope-url-prefix still gives the envelope.
    assert.ok(verifies(GLOBAL_SECRET, other) && !verifies(CRM_SECRET, other));
    assert.equal((JSON.parse(other.body) as { Event?: string }).Event, 'FinishInteraction');
    assert.ok(bridge!.logs.some((l) => l.code === 'UCW_WARN_CONFIG_DEPRECATED'));

    // Static headers arrive at their receiver only.
    assert.equal(crm.headers.authorization, CRM_TOKEN);
    assert.equal(crm.headers['x-static'], STATIC_VALUE);
    assert.equal(internal.headers.authorization, undefined);
    assert.equal(other.headers['x-static'], undefined);
  });

  void test('a rate-limited URL gets its rate, measured by arrival times, in per-agent order', async () => {
    const { src, rx } = env;
    rx.clear();
    const agents = ['ra', 'rb', 'rc'];
    const rows = [];
    for (let i = 0; i < 60; i++) {
      const s = String(i).padStart(2, '0');
      rows.push(
        queueLog({
          time: `2026-03-02 15:00:${s}.000`,
          event: i % 2 ? 'AGENTLOGOFF' : 'AGENTLOGIN',
          agent: agents[i % 3],
        }),
      );
    }
    await src.tx(...rows);
    await waitFor(() => rx.requests.length >= 60, { timeoutMs: 30_000, message: () => `${rx.requests.length}/60` });
    const times = rx.requests.map((r) => r.receivedAtMs).sort((a, b) => a - b);
    // After the burst (2 at 20/s), one every 50 ms: 57 intervals take about 2.85 s. Generous bounds
    // for a shared machine; the exact figure belongs in the bench.
    const rate = (times.length - 3) / ((times.at(-1)! - times[2]!) / 1000);
    assert.ok(rate > RATE * 0.6 && rate < RATE * 1.1, `${rate.toFixed(1)}/s to a URL limited to ${RATE}/s`);
    for (const agent of agents) {
      const dates = rx.requests
        .map((r) => JSON.parse(r.body) as { agent: string; date: string })
        .filter((b) => b.agent === agent)
        .map((b) => b.date);
      assert.equal(dates.length, 20);
      assert.deepEqual(dates, [...dates].sort(), `${agent}'s events out of order`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${bridge!.httpPort()}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('ucw_rate_limit_wait_seconds_total{'));
    assert.ok(line?.includes(`url="${rx.urlFor('/crm')}"`), `no wait counted for /crm: ${line}`);
    assert.ok(Number(line!.split(' ')[1]) > 1, line);
  });

  void test('no secret or header value in the logs, /metrics or `config print`', async () => {
    const { src, rx } = env;
    const metrics = await (await fetch(`http://127.0.0.1:${bridge!.httpPort()}/metrics`)).text();
    const logs = JSON.stringify(bridge!.logs) + bridge!.stderr.join('');
    assert.ok(bridge!.logs.length > 50, 'the bridge logged (at debug)');
    const printed = await cli(['config', 'print', '--config', configPath, '--mysql-url', src.db.bridgeUrl], secretEnv);
    assert.equal(printed.code, 0, printed.err);
    for (const secret of SECRETS) {
      for (const [where, text] of [
        ['logs', logs],
        ['metrics', metrics],
        ['config print', printed.out + printed.err],
      ] as const)
        assert.ok(!text.includes(secret), `${where} show a secret`);
    }
    const doc = JSON.parse(printed.out) as {
      options: Record<string, { value: unknown; source: string }>;
      registeredUrls: Array<{ url: string; receiver: string | null; settings: Record<string, unknown> }>;
    };
    assert.deepEqual(doc.options.signingSecret, { value: ['[redacted]'], source: 'env' });
    assert.equal(doc.options.envelopeUrlPrefix!.source, 'default');
    const byUrl = Object.fromEntries(doc.registeredUrls.map((u) => [u.url, u]));
    assert.equal(byUrl[rx.urlFor('/crm')]?.receiver, 'crm');
    assert.equal(byUrl[rx.urlFor('/crm')]?.settings.rateLimitPerSecond, RATE);
    assert.deepEqual(byUrl[rx.urlFor('/crm')]?.settings.headers, ['Authorization', 'X-Static']);
    assert.equal(byUrl[rx.urlFor('/internal/break')]?.receiver, 'internal');
    assert.equal(byUrl[rx.urlFor('/other')]?.receiver, null);
    assert.equal(byUrl[rx.urlFor('/other')]?.settings.signingSecrets, 'global');
  });

  void test('a header that would override a protocol header is refused at start with its path (exit 2)', async () => {
    const { src, rx } = env;
    const bad = writeConfig('bad.json', {
      receivers: [
        { url: rx.urlFor('/crm'), headers: { 'Content-Type': STATIC_VALUE, 'Webhook-Signature': CRM_TOKEN } },
      ],
    });
    const started = startBridgeProcess({
      mysqlUrl: src.db.bridgeUrl,
      stateDir: src.stateDir(),
      args: ['--config', bad],
    });
    assert.equal(await started.exited, 2);
    const err = started.stderr.join('');
    assert.match(err, /UCW_ERR_CONFIG_INVALID/);
    assert.match(err, /receivers\[0\]\.headers\.Content-Type: would override the protocol header content-type/);
    assert.match(err, /receivers\[0\]\.headers\.Webhook-Signature: would override/);
    assert.ok(!err.includes(STATIC_VALUE) && !err.includes(CRM_TOKEN), 'the error shows a header value');
  });
});
