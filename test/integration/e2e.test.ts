// End to end through the built CLI against a private MariaDB: contact-center traffic in the reference
// schema must reach the registered URLs as byte-exact uContact bodies with the documented headers.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import type { RecordedRequest } from '../../demo/receiver.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { metricIn, scrape } from '../helpers/metrics-text.js';

const SECRET_KEY = Buffer.from('an end-to-end test signing key!!');
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PAYLOAD_DATE_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

void describe('end to end: reference schema -> six events', () => {
  const env = useIntegrationEnv();

  void test('every event, byte for byte, with every header', async () => {
    const { src, rx } = env;
    // State that exists before the bridge starts: read from the snapshot, not the binlog.
    await src.tx(
      'INSERT INTO ccdata.users (username, phone, name) VALUES ' +
        "('jdoe', '2001', 'Jane Doe'), ('jperez', '2002', 'José Pérez 😀')",
      'INSERT INTO ccdata.dispositions (id, parentId, value) VALUES (1, ' +
        "0, 'Sale'), (2, 1, 'Closed'), (3, 2, 'Paid'), (4, 0, 'No sale')",
      setUrl('AgentRingNoAnswer', rx.urlFor('/ring')),
      setUrl('AgentLog', rx.urlFor('/log')),
      setUrl('AgentBreak', rx.urlFor('/break')),
      setUrl('FinishInteraction', rx.urlFor('/finish')),
      setUrl('InteractionDisposition', rx.urlFor('/dispo')),
      setUrl('AssignInteraction', rx.urlFor('/assign')),
      // An ENTERQUEUE the bridge never sees in the stream: its caller number needs the SELECT fallback.
      queueLog({
        time: '2026-03-02 13:59:00.000',
        event: 'ENTERQUEUE',
        callid: 'c-old',
        queuename: 'Support<-',
        data2: '59899000111',
      }),
    );

    const bridge = env.startBridge({ env: { UCW_SIGNING_SECRET: SECRET } });
    await bridge.waitReady();

    await src.tx("INSERT INTO ccdata.users (username, phone, name) VALUES ('mlopez', '2003', 'María López')");
    await src.tx(
      queueLog({
        time: '2026-03-02 14:05:00.000',
        event: 'ENTERQUEUE',
        callid: 'c1',
        queuename: 'Sales<-',
        data2: '59891234567',
      }),
    );
    await src.tx(
      queueLog({
        time: '2026-03-02 14:05:09.250',
        event: 'RINGNOANSWER',
        callid: 'c1',
        queuename: 'Sales<-',
        agent: 'SIP/2001',
        data1: '15000',
      }),
    );
    await src.tx(
      queueLog({
        time: '2026-03-02 14:05:30.000',
        event: 'RINGNOANSWER',
        callid: 'c-old',
        queuename: 'Support<-',
        agent: 'PJSIP/2003',
        data1: '20000',
      }),
    );
    await src.tx(queueLog({ time: '2026-03-02 14:06:00.000', event: 'AGENTLOGIN', agent: 'jdoe' }));
    await src.tx(queueLog({ time: '2026-03-02 14:10:00.000', event: 'PAUSE', agent: 'jdoe', data1: 'Café ☕' }));
    await src.tx(queueLog({ time: '2026-03-02 14:25:00.000', event: 'UNPAUSE', agent: 'jdoe', data1: 'Café ☕' }));
    await src.tx(queueLog({ time: '2026-03-02 18:00:00.000', event: 'AGENTLOGOFF', agent: 'jdoe' }));
    // A telephony leg: started, finished, dispositioned, then touched again (no second finish).
    await src.tx([
      'INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, agent, clientId, ' +
        "finished) VALUES ('g1', '2026-03-02 14:30:00', 'Sales<-', 'telephony', 'jdoe', '59891234567', 0)",
      [],
    ]);
    await src.tx("UPDATE ccrepo.interactions SET end_date = '2026-03-02 14:32:05', finished = 1 WHERE guid = 'g1'");
    await src.tx("UPDATE ccrepo.interactions SET disposition_id = 3, dispositionIds = '1,2,3' WHERE guid = 'g1'");
    await src.tx(`UPDATE ccrepo.interactions SET data = '{"note":"follow up"}' WHERE guid = 'g1'`);
    // A webchat inserted finished, with NULL agent and client, and a disposition (not telephony: no event).
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, ' +
        "channel, agent, clientId, disposition_id, finished) VALUES ('g2', '2026-03-02 " +
        "15:00:00', '2026-03-02 15:03:30', 'Chat<-', 'webchat', NULL, NULL, 2, 1)",
    );
    // A telephony leg inserted with a level-2 disposition and not finished.
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, ' +
        "agent, clientId, disposition_id, finished) VALUES ('g3', '2026-03-02 " +
        "16:00:00', 'Sales<-', 'telephony', 'jperez', '59892222222', 2, 0)",
    );
    // A leg finished with a zero end date (non-strict sql_mode): the payload carries null, no crash.
    await src.tx(
      "SET SESSION sql_mode = ''",
      'INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, ' +
        "channel, agent, clientId, finished) VALUES ('g4', '2026-03-02 17:00:00', " +
        "'0000-00-00 00:00:00', 'Sales<-', 'sms', 'jdoe', '59893333333', 1)",
    );
    // A queued leg (agent NULL) taken by an agent, then handed to another (a reassignment: no event).
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, agent, clientId, finished) ' +
        "VALUES ('g5', '2026-03-02 18:30:00', 'Support<-', 'telephony', NULL, '59894444444', 0)",
    );
    await src.tx("UPDATE ccrepo.interactions SET agent = 'mlopez' WHERE guid = 'g5'");
    await src.tx("UPDATE ccrepo.interactions SET agent = 'jdoe' WHERE guid = 'g5'");
    // A leg with an empty agent and a zero start date, then taken: its date is the commit time.
    await src.tx(
      "SET SESSION sql_mode = ''",
      'INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, agent, clientId, finished) ' +
        "VALUES ('g6', '0000-00-00 00:00:00', 'Chat<-', 'webchat', '', NULL, 0)",
    );
    await src.tx("UPDATE ccrepo.interactions SET agent = 'jperez' WHERE guid = 'g6'");
    // Markers: once both have arrived, every earlier transaction has been processed (commit order).
    await src.tx(queueLog({ time: '2026-03-02 19:00:00.000', event: 'AGENTLOGIN', agent: 'marker' }));
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, agent, clientId, finished) ' +
        "VALUES ('marker', '2026-03-02 19:00:00', 'Sales<-', 'telephony', 'marker', NULL, 0)",
    );

    for (const path of ['/log', '/assign']) {
      await waitFor(() => rx.requests.some((r) => r.path === path && r.body.includes('"marker"')), {
        message: `${path} marker event never arrived`,
      });
    }
    await waitFor(() => rx.requests.length >= 18, { message: () => `only ${rx.requests.length} requests arrived` });

    const bodies = (path: string): string[] => rx.requests.filter((r) => r.path === path).map((r) => r.body);
    assert.deepEqual(bodies('/ring').sort(), [
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe","agentNumber":"2001",' +
        '"agentFullName":"Jane Doe","callerIdNum":"59891234567","campaign":"Sales<-"}',
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:30","agent":"mlopez","agentNumber":"2003",' +
        '"agentFullName":"María López","callerIdNum":"59899000111","campaign":"Support<-"}',
    ]);
    // Order is promised per agent (and per interaction), not across them.
    assert.deepEqual(
      bodies('/log').filter((b) => b.includes('"jdoe"')),
      [
        '{"event":"AgentLog","date":"2026-03-02 14:06:00","agent":"jdoe","isLogin":true}',
        '{"event":"AgentLog","date":"2026-03-02 18:00:00","agent":"jdoe","isLogin":false}',
      ],
    );
    assert.deepEqual(
      bodies('/log').filter((b) => !b.includes('"jdoe"')),
      ['{"event":"AgentLog","date":"2026-03-02 19:00:00","agent":"marker","isLogin":true}'],
    );
    assert.deepEqual(bodies('/break'), [
      '{"event":"AgentBreak","date":"2026-03-02 14:10:00","agent":"jdoe","motive":"Café ☕","isBreak":true}',
      '{"event":"AgentBreak","date":"2026-03-02 14:25:00","agent":"jdoe","motive":"Café ☕","isBreak":false}',
    ]);
    const finishes = bodies('/finish');
    const zero = finishes.find((b) => b.includes('"g4"'));
    assert.ok(zero, 'zero-date leg produced no event');
    const zeroDate = (JSON.parse(zero) as { date: string }).date;
    assert.equal(
      zero,
      `{"event":"FinishInteraction","date":"${zeroDate}","guid":"g4",` +
        `"campaign":"Sales<-","agent":"jdoe","channel":"sms","clientId":"59893333333",` +
        `"startDate":"2026-03-02 17:00:00","endDate":null,"duration":null}`,
    );
    assert.deepEqual(finishes.filter((b) => b !== zero).sort(), [
      '{"event":"FinishInteraction","date":"2026-03-02 14:32:05","guid":"g1",' +
        '"campaign":"Sales<-","agent":"jdoe","channel":"telephony","clientId":"59891234567",' +
        '"startDate":"2026-03-02 14:30:00","endDate":"2026-03-02 14:32:05","duration":125}',
      '{"event":"FinishInteraction","date":"2026-03-02 15:03:30","guid":"g2",' +
        '"campaign":"Chat<-","agent":null,"channel":"webchat","clientId":null,' +
        '"startDate":"2026-03-02 15:00:00","endDate":"2026-03-02 15:03:30","duration":210}',
    ]);
    // InteractionDisposition has no time column in the default rules: its date is the commit time.
    const dispo = rx.requests.filter((r) => r.path === '/dispo');
    assert.equal(dispo.length, 2);
    const dates = dispo.map((r) => (JSON.parse(r.body) as { date: string }).date);
    for (const d of dates) {
      assert.match(d, PAYLOAD_DATE_RE);
      assert.ok(
        Math.abs(Date.parse(`${d.replace(' ', 'T')}Z`) - Date.now()) < 120_000,
        `date ${d} is not the commit time`,
      );
    }
    assert.deepEqual(
      dispo.map((r) => r.body).sort(),
      [
        `{"event":"InteractionDisposition","date":"${dates[0]}","guid":"g1","campaign":"Sales<-",` +
          `"agent":"jdoe","clientId":"59891234567","dispositionId":3,"l1":"Sale","l2":"Closed","l3":"Paid"}`,
        `{"event":"InteractionDisposition","date":"${dates[1]}","guid":"g3","campaign":"Sales<-",` +
          `"agent":"jperez","clientId":"59892222222","dispositionId":2,"l1":"Sale","l2":"Closed","l3":null}`,
      ].sort(),
    );
    // AssignInteraction is dated by the leg's start; g6 has none (zero date): the commit time.
    const assigns = bodies('/assign');
    const g6 = assigns.find((b) => b.includes('"g6"'));
    assert.ok(g6, 'the g6 assignment produced no event');
    const g6Date = (JSON.parse(g6) as { date: string }).date;
    assert.match(g6Date, PAYLOAD_DATE_RE);
    assert.ok(Math.abs(Date.parse(`${g6Date.replace(' ', 'T')}Z`) - Date.now()) < 120_000, `${g6Date} is not now`);
    assert.deepEqual(
      assigns.sort(),
      [
        `{"event":"AssignInteraction","date":"${g6Date}","guid":"g6","campaign":"Chat<-",` +
          '"agent":"jperez","channel":"webchat","clientId":null}',
        '{"event":"AssignInteraction","date":"2026-03-02 14:30:00","guid":"g1","campaign":"Sales<-",' +
          '"agent":"jdoe","channel":"telephony","clientId":"59891234567"}',
        '{"event":"AssignInteraction","date":"2026-03-02 16:00:00","guid":"g3","campaign":"Sales<-",' +
          '"agent":"jperez","channel":"telephony","clientId":"59892222222"}',
        '{"event":"AssignInteraction","date":"2026-03-02 17:00:00","guid":"g4","campaign":"Sales<-",' +
          '"agent":"jdoe","channel":"sms","clientId":"59893333333"}',
        '{"event":"AssignInteraction","date":"2026-03-02 18:30:00","guid":"g5","campaign":"Support<-",' +
          '"agent":"mlopez","channel":"telephony","clientId":"59894444444"}',
        '{"event":"AssignInteraction","date":"2026-03-02 19:00:00","guid":"marker","campaign":"Sales<-",' +
          '"agent":"marker","channel":"telephony","clientId":null}',
      ].sort(),
    );
    assert.equal(rx.requests.length, 18, 'no event may arrive twice or unexpectedly');

    for (const r of rx.requests) assertHeaders(r);
    const ids = rx.requests.map((r) => r.headers['webhook-id']);
    assert.equal(new Set(ids).size, ids.length, 'every event has its own id');

    // The production counter agrees: 18 events produced (and no more were pending).
    const metrics = await scrape(bridge.httpPort());
    assert.equal(metricIn(metrics, 'ucw_events_total'), 18);
    // Secrets never appear in logs, errors or metrics: not the signing secret, not the DB password.
    const password = new URL(src.db.bridgeUrl).password;
    const everything = JSON.stringify(bridge.logs) + bridge.stderr.join('') + metrics;
    for (const secret of [SECRET, SECRET_KEY.toString('base64'), password])
      assert.ok(!everything.includes(secret), 'a secret leaked');
    // Payloads (caller numbers) never appear in logs above debug level.
    for (const l of bridge.logs.filter((x) => x.level !== 'debug'))
      assert.ok(!JSON.stringify(l).includes('59891234567'), `payload leaked: ${JSON.stringify(l)}`);
  });

  void test('every metric the docs name is in a live scrape, and every one scraped is documented', async () => {
    const bridge = env.startBridge();
    await bridge.waitReady();
    const scraped = new Set(
      [...(await scrape(bridge.httpPort())).matchAll(/^# TYPE (ucw_[a-z_]+) /gm)].map((m) => m[1]!),
    );
    assert.equal(await bridge.stop(), 0);
    const docs = ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
      f.endsWith('.md'),
    );
    const named = new Map<string, string>();
    for (const file of docs)
      for (const m of readFileSync(join(PROJECT_ROOT, file), 'utf8').matchAll(/\bucw_[a-z_]*[a-z]\b/g))
        // ucw_bridge is the database user of the README's grants, not a metric.
        if (m[0] !== 'ucw_bridge') named.set(m[0], file);
    assert.ok(named.size >= 15, `only ${named.size} metric names found in the docs`);
    const missing = [...named].filter(([name]) => !scraped.has(name)).map(([name, file]) => `${name} (${file})`);
    assert.deepEqual(missing, [], 'named in the docs, not in /metrics');
    // The other way: every bridge metric (not node's process metrics) has a row in the operations table.
    const table = readFileSync(join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    const undocumented = [...scraped].filter(
      (name) => !/^ucw_(process|nodejs)_/.test(name) && !table.includes(`| \`${name}`),
    );
    assert.deepEqual(undocumented, [], 'in /metrics, not in the table of docs/operations.md');
  });
});

function assertHeaders(r: RecordedRequest): void {
  const body = JSON.parse(r.body) as { event: string; date: string };
  const h = r.headers;
  assert.equal(r.method, 'POST');
  assert.equal(h['content-type'], 'application/json');
  assert.match(h['user-agent'] ?? '', /^ucontact-webhooks\/\d+\.\d+\.\d+$/);
  assert.match(h['webhook-id'] ?? '', UUID_RE);
  assert.equal(h['ce-id'], h['webhook-id']);
  assert.equal(h['ce-specversion'], '1.0');
  assert.equal(h['ce-type'], `com.ucontact.${body.event}`);
  assert.equal(h['ce-source'], '/ucontact-webhooks');
  assert.match(h['ce-time'] ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
  assert.equal(h['ce-time']!.slice(0, 19).replace('T', ' '), body.date, 'ce-time is the event time (UTC output zone)');
  const ts = Number(h['webhook-timestamp']);
  assert.ok(
    Number.isInteger(ts) && Math.abs(ts - Date.now() / 1000) < 120,
    `webhook-timestamp ${h['webhook-timestamp']}`,
  );
  const expected = createHmac('sha256', SECRET_KEY).update(`${h['webhook-id']}.${ts}.${r.body}`).digest('base64');
  assert.equal(h['webhook-signature'], `v1,${expected}`);
}
