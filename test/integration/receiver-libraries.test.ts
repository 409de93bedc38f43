// Deliveries checked by the ecosystem's own libraries rather than by our own HMAC: the official
// standardwebhooks package verifies every request (two secrets in rotation, each alone; a wrong one
// rejected), the CloudEvents SDK's HTTP binding parses it, and docs/examples/receiver.mjs runs against one.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { RecordedRequest } from '../../demo/receiver.js';
import { PROJECT_ROOT, type BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const WHSEC = `whsec_${Buffer.from('receiver-libraries test key 32b!').toString('base64')}`;
const PLAIN = 'plain-text-rotation-secret';
const WRONG = `whsec_${Buffer.from('not the key the bridge signs with').toString('base64')}`;
const CE_SOURCE = '/ucw-test/receivers';

void describe('deliveries verified by standardwebhooks and parsed by the CloudEvents SDK', () => {
  const env = useIntegrationEnv();
  let bridge: BridgeProcess | undefined;
  const runningBridge = async (): Promise<void> => {
    if (bridge) return;
    bridge = env.startBridge({
      args: ['--signing-secret', WHSEC, '--signing-secret', PLAIN, '--ce-source', CE_SOURCE],
    });
    await bridge.waitReady();
  };

  /** Three deliveries (AgentLog, AgentBreak, FinishInteraction), made by whichever test asks first. */
  let three: Promise<RecordedRequest[]> | undefined;
  const threeDeliveries = (): Promise<RecordedRequest[]> =>
    (three ??= (async () => {
      const { src, rx } = env;
      await src.tx(
        setUrl('AgentLog', rx.urlFor('/log')),
        setUrl('AgentBreak', rx.urlFor('/break')),
        setUrl('FinishInteraction', rx.urlFor('/finish')),
      );
      await runningBridge();
      await src.tx(queueLog({ time: '2026-03-02 14:06:00.000', event: 'AGENTLOGIN', agent: 'jdoe' }));
      await src.tx(queueLog({ time: '2026-03-02 14:10:00.000', event: 'PAUSE', agent: 'jdoe', data1: 'Café ☕' }));
      await src.tx(
        'INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, channel, agent, clientId, ' +
          "finished) VALUES ('g1', '2026-03-02 14:30:00', '2026-03-02 14:32:05', 'Sales<-', 'telephony', " +
          "'jdoe', '59891234567', 1)",
      );
      await waitFor(() => rx.requests.length >= 3, { message: () => `only ${rx.requests.length} of 3 requests` });
      const got = rx.requests.filter((r) => ['/log', '/break', '/finish'].includes(r.path));
      assert.deepEqual(got.map((r) => r.path).sort(), ['/break', '/finish', '/log']);
      return got;
    })());

  void test('every request verifies with each rotation secret alone, not with a wrong one', async () => {
    const requests = await threeDeliveries();

    const current = new Webhook(WHSEC);
    // A plain-text secret is the key's own bytes: the library takes it with format 'raw'.
    const previous = new Webhook(PLAIN, { format: 'raw' });
    assert.throws(() => new Webhook(PLAIN), /Base64Coder/, 'without it the text is taken for base64');
    const wrong = new Webhook(WRONG);
    for (const r of requests) {
      assert.equal(r.headers['webhook-signature']?.split(' ').length, 2, 'one v1 signature per secret');
      const body = JSON.parse(r.body) as unknown;
      assert.deepEqual(current.verify(r.body, r.headers), body);
      assert.deepEqual(previous.verify(r.body, r.headers), body);
      assert.throws(() => wrong.verify(r.body, r.headers), WebhookVerificationError);
      // The signature covers the body byte for byte.
      assert.throws(() => current.verify(`${r.body} `, r.headers), WebhookVerificationError);
    }
  });

  void test('the cloudevents HTTP binding reads id, type, source, time and data', async () => {
    // Its own deliveries (made here if the test above did not run): never a vacuous loop over nothing.
    const requests = await threeDeliveries();
    assert.equal(requests.length, 3);
    const expectedTime: Record<string, string> = {
      '/log': '2026-03-02T14:06:00.000Z',
      '/break': '2026-03-02T14:10:00.000Z',
      '/finish': '2026-03-02T14:32:05.000Z',
    };
    for (const r of requests) {
      const body = JSON.parse(r.body) as { event: string };
      const parsed = HTTP.toEvent({ headers: r.headers, body: r.body });
      assert.ok(!Array.isArray(parsed), 'binary mode gives one event');
      assert.equal(parsed.specversion, '1.0');
      assert.equal(parsed.id, r.headers['webhook-id']);
      assert.equal(parsed.type, `com.ucontact.${body.event}`);
      assert.equal(parsed.source, CE_SOURCE);
      assert.equal(new Date(parsed.time ?? '').toISOString(), expectedTime[r.path]);
      assert.equal(parsed.datacontenttype, 'application/json');
      assert.deepEqual(parsed.data, body);
    }
  });

  void test('docs/examples/receiver.mjs verifies, prints and deduplicates a real delivery', async () => {
    const { src, rx } = env;
    const example = spawn(process.execPath, [join(PROJECT_ROOT, 'docs', 'examples', 'receiver.mjs')], {
      env: { ...process.env, WEBHOOK_SECRET: WHSEC, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: example.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    try {
      const port = await waitFor(() => lines.find((l) => typeof l.listening === 'number')?.listening as number, {
        message: 'the example never listened',
      });
      const exampleUrl = `http://127.0.0.1:${port}/hooks`;
      await src.tx(["INSERT INTO ccdata.webhooks (name, event, url) VALUES ('example', 'AgentLog', ?)", [exampleUrl]]);
      await runningBridge();
      await src.tx(queueLog({ time: '2026-03-02 18:00:00.000', event: 'AGENTLOGOFF', agent: 'jdoe' }));
      const printed = await waitFor(() => lines.find((l) => l.type === 'com.ucontact.AgentLog'), {
        message: () => `the example printed no event: ${JSON.stringify(lines)}`,
      });
      const delivered = await waitFor(() => rx.requests.find((r) => r.body.includes('"isLogin":false')), {
        message: 'the recording receiver got no AGENTLOGOFF',
      });
      assert.deepEqual(printed, {
        id: delivered.headers['webhook-id'],
        type: 'com.ucontact.AgentLog',
        source: CE_SOURCE,
        time: printed.time,
        data: { event: 'AgentLog', date: '2026-03-02 18:00:00', agent: 'jdoe', isLogin: false },
      });
      assert.equal(new Date(printed.time as string).toISOString(), '2026-03-02T18:00:00.000Z');
      // The same request again (a retry or replay) is acknowledged and dropped; a forged one is refused.
      assert.equal(await post(exampleUrl, delivered), 200);
      await waitFor(() => lines.some((l) => l.duplicate === delivered.headers['webhook-id']), {
        message: () => `the repeat was not reported as a duplicate: ${JSON.stringify(lines)}`,
      });
      assert.equal(await post(exampleUrl, { ...delivered, body: delivered.body.replace('jdoe', 'mallory') }), 401);
      assert.equal(lines.filter((l) => l.type !== undefined).length, 1, 'one event handled, once');
    } finally {
      example.kill('SIGTERM');
    }
  });
});

async function post(url: string, r: RecordedRequest): Promise<number> {
  const headers = Object.fromEntries(
    Object.entries(r.headers).filter(([k]) => k.startsWith('webhook-') || k.startsWith('ce-') || k === 'content-type'),
  );
  const res = await fetch(url, { method: 'POST', headers, body: r.body });
  await res.arrayBuffer();
  return res.status;
}
