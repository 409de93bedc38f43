// Column names match case-insensitively, as in MySQL: uContact documents its webhooks key column as
// `Id`, and a rules file that writes `id` (the defaults) must run against it. Every role is covered
// here with a schema whose columns are mixed-case and a rules file written in lower case.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const SCHEMA = `
CREATE DATABASE cc3;
CREATE TABLE cc3.agents (UserName VARCHAR(40) PRIMARY KEY, Phone VARCHAR(10), FullName VARCHAR(100));
CREATE TABLE cc3.activity (
  Id BIGINT AUTO_INCREMENT PRIMARY KEY, EventTime DATETIME(3) NOT NULL, Agent VARCHAR(40) NOT NULL,
  Kind VARCHAR(20) NOT NULL, Detail JSON NULL, CallId VARCHAR(40) NULL
);
CREATE TABLE cc3.dispos (Code INT PRIMARY KEY, ParentCode INT NULL, Label VARCHAR(100) NOT NULL);
CREATE TABLE cc3.contacts (
  Guid VARCHAR(40) PRIMARY KEY, Channel VARCHAR(20), Queue VARCHAR(40), Agent VARCHAR(40), ClientID VARCHAR(40),
  StartDate DATETIME, EndDate DATETIME, State VARCHAR(10), DispoCode INT NULL
);
CREATE TABLE cc3.hooks (
  Id INT AUTO_INCREMENT PRIMARY KEY, Name VARCHAR(100), Event VARCHAR(64), URL VARCHAR(256), User VARCHAR(80)
);
GRANT SELECT ON cc3.* TO 'ucw_bridge'@'%';
`;

const RULES_YAML = `
version: 1
registry:
  { table: cc3.hooks, key: id, eventColumn: event, urlColumn: url, when: { column: user, eq: ucontact-webhooks } }
directories:
  agents:
    table: cc3.agents
    key: username
    match: [ { column: username }, { column: phone, pattern: '^EXT-(\\d+)$' } ]
  dispos: { table: cc3.dispos, key: code, parent: { column: parentcode, root: null } }
memories:
  callerByCall: { table: cc3.activity, when: { column: kind, eq: ENTER }, key: callid, value: agent, orderBy: id }
rules:
  - id: login
    event: AgentLog
    table: cc3.activity
    on: [insert]
    when: { column: kind, in: [LOGIN, LOGOFF] }
    date: { column: eventtime }
    orderKey: agent
    fields:
      agent:
        coalesce: [ { lookup: { directory: agents, key: { column: agent }, column: username } }, { column: agent } ]
      isLogin: { test: { column: kind, eq: LOGIN } }
  - id: pause
    event: AgentBreak
    table: cc3.activity
    on: [insert]
    when: { column: KIND, eq: PAUSE }
    date: { column: EVENTTIME }
    orderKey: agent
    fields:
      agent: { column: AGENT }
      motive: { json: { column: detail, path: $.motive } }
      isBreak: { const: true }
  - id: ring
    event: AgentRingNoAnswer
    table: cc3.activity
    on: [insert]
    when: { column: kind, eq: NOANSWER }
    date: { column: eventtime }
    orderKey: agent
    fields:
      agent: { lookup: { directory: agents, key: { column: agent }, column: username } }
      agentNumber: { lookup: { directory: agents, key: { column: agent }, column: phone } }
      agentFullName: { lookup: { directory: agents, key: { column: agent }, column: fullname } }
      callerIdNum: { remembered: { memory: callerByCall, key: { column: callid } } }
      campaign: { const: Sales }
  - id: finish
    event: FinishInteraction
    table: cc3.contacts
    on: [update]
    when: { all: [ { changed: state }, { column: state, row: old, ne: CLOSED }, { column: state, eq: CLOSED } ] }
    date: { column: enddate }
    orderKey: guid
    fields:
      guid: { column: guid }
      campaign: { column: queue }
      agent: { column: agent }
      channel: { column: channel }
      clientId: { column: clientid }
      startDate: { column: startdate }
      endDate: { column: enddate }
      duration: { secondsBetween: [ { column: startdate }, { column: enddate } ] }
  - id: dispo
    event: InteractionDisposition
    table: cc3.contacts
    on: [update]
    when: { all: [ { changed: dispocode }, { column: dispocode, isNull: false } ] }
    orderKey: guid
    fields:
      guid: { column: guid }
      campaign: { column: queue }
      agent: { column: agent }
      clientId: { column: clientid }
      dispositionId: { column: dispocode }
      l1: { lookup: { directory: dispos, key: { column: dispocode }, column: label, level: 1 } }
      l2: { lookup: { directory: dispos, key: { column: dispocode }, column: label, level: 2 } }
      l3: { lookup: { directory: dispos, key: { column: dispocode }, column: label, level: 3 } }
`;

void describe('column names match case-insensitively', () => {
  const env = useIntegrationEnv();

  void test('the default rules run against a webhooks table whose key column is `Id`', async () => {
    const { src, rx } = env;
    await src.reset();
    await src.admin.query('ALTER TABLE ccdata.webhooks CHANGE id Id INT NOT NULL AUTO_INCREMENT');
    await src.tx(setUrl('AgentLog', rx.urlFor('/id-log')));
    const bridge = env.startBridge();
    await bridge.waitReady();
    await src.tx(queueLog({ time: '2026-03-02 09:00:00.000', event: 'AGENTLOGIN', agent: 'ana' }));
    await waitFor(() => rx.requests.some((r) => r.path === '/id-log'), {
      message: () => `no AgentLog delivered; ${JSON.stringify(bridge.logs.slice(-3))}`,
    });
    assert.deepEqual(
      rx.requests.filter((r) => r.path === '/id-log').map((r) => r.body),
      ['{"event":"AgentLog","date":"2026-03-02 09:00:00","agent":"ana","isLogin":true}'],
    );
    // A URL added while running is mirrored under the real key column too.
    await src.tx(setUrl('AgentBreak', rx.urlFor('/id-break')));
    await src.tx(queueLog({ time: '2026-03-02 09:05:00.000', event: 'PAUSE', agent: 'ana', data1: 'Lunch' }));
    await waitFor(() => rx.requests.some((r) => r.path === '/id-break'), { message: 'no AgentBreak delivered' });
    assert.equal(await bridge.stop(), 0);
  });

  void test('mixed-case columns in every role, named in lower case by the rules', async () => {
    const { src, rx } = env;
    await src.db.exec(SCHEMA);
    const stateDir = src.stateDir();
    const rulesPath = join(stateDir, '..', `rules-case-${process.pid}.yaml`);
    writeFileSync(rulesPath, RULES_YAML);
    const events = ['AgentLog', 'AgentBreak', 'AgentRingNoAnswer', 'FinishInteraction', 'InteractionDisposition'];
    await src.tx(
      "INSERT INTO cc3.agents VALUES ('ana', '301', 'Ana Núñez')",
      'INSERT INTO cc3.dispos VALUES (10, NULL, "Sale"), (11, 10, "Cash")',
      [
        `INSERT INTO cc3.hooks (Name, Event, URL, User) VALUES ${events.map(() => '(?, ?, ?, ?)').join(', ')}`,
        events.flatMap((e) => [e, e, rx.urlFor('/case'), 'ucontact-webhooks']),
      ],
      // Not marked for the bridge: left to uContact's own sender.
      ["INSERT INTO cc3.hooks (Name, Event, URL, User) VALUES ('n', 'AgentLog', ?, NULL)", [rx.urlFor('/native')]],
      // Before the bridge starts: found by the memory's fallback SELECT.
      'INSERT INTO cc3.activity (EventTime, Agent, Kind, CallId) ' +
        "VALUES ('2026-03-02 09:59:00', '59811111111', 'ENTER', 'L0')",
    );
    const bridge = env.startBridge({ stateDir, args: ['--rules', rulesPath] });
    await bridge.waitReady();

    await src.tx(
      'INSERT INTO cc3.activity (EventTime, Agent, Kind) ' + "VALUES ('2026-03-02 09:00:00', 'EXT-301', 'LOGIN')",
    );
    await src.tx(
      'INSERT INTO cc3.activity (EventTime, Agent, Kind, Detail) ' +
        `VALUES ('2026-03-02 09:30:00', 'ana', 'PAUSE', '{"motive":"Lunch"}')`,
    );
    await src.tx(
      'INSERT INTO cc3.activity (EventTime, Agent, Kind, CallId) ' +
        "VALUES ('2026-03-02 10:00:20', 'EXT-301', 'NOANSWER', 'L0')",
    );
    await src.tx(
      'INSERT INTO cc3.activity (EventTime, Agent, Kind, CallId) ' +
        "VALUES ('2026-03-02 10:01:00', '59822222222', 'ENTER', 'L1')",
    );
    await src.tx(
      'INSERT INTO cc3.activity (EventTime, Agent, Kind, CallId) ' +
        "VALUES ('2026-03-02 10:01:20', 'ana', 'NOANSWER', 'L1')",
    );
    await src.tx(
      "INSERT INTO cc3.contacts VALUES ('u1', 'whatsapp', 'Sales', 'ana', 'c-9', " +
        "'2026-03-02 10:01:00', NULL, 'OPEN', NULL)",
    );
    await src.tx("UPDATE cc3.contacts SET EndDate = '2026-03-02 10:02:40', State = 'CLOSED' WHERE Guid = 'u1'");
    await src.tx("UPDATE cc3.contacts SET DispoCode = 11 WHERE Guid = 'u1'");

    await waitFor(() => rx.requests.filter((r) => r.path === '/case').length >= 6, {
      message: () => `${rx.requests.length}/6 events; ${JSON.stringify(bridge.logs.slice(-5))}`,
    });
    // Events of different order keys are delivered concurrently: compared in sorted order.
    const bodies = rx.requests
      .filter((r) => r.path === '/case')
      .map((r) => r.body)
      .sort();
    const dispo = JSON.parse(bodies.find((b) => b.includes('InteractionDisposition'))!) as { date: string };
    assert.deepEqual(
      bodies,
      [
        '{"event":"AgentLog","date":"2026-03-02 09:00:00","agent":"ana","isLogin":true}',
        '{"event":"AgentBreak","date":"2026-03-02 09:30:00","agent":"ana","motive":"Lunch","isBreak":true}',
        '{"event":"AgentRingNoAnswer","date":"2026-03-02 10:00:20","agent":"ana","agentNumber":"301",' +
          '"agentFullName":"Ana Núñez","callerIdNum":"59811111111","campaign":"Sales"}',
        '{"event":"AgentRingNoAnswer","date":"2026-03-02 10:01:20","agent":"ana","agentNumber":"301",' +
          '"agentFullName":"Ana Núñez","callerIdNum":"59822222222","campaign":"Sales"}',
        '{"event":"FinishInteraction","date":"2026-03-02 10:02:40","guid":"u1","campaign":"Sales","agent":"ana",' +
          '"channel":"whatsapp","clientId":"c-9","startDate":"2026-03-02 10:01:00","endDate":"2026-03-02 10:02:40",' +
          '"duration":100}',
        `{"event":"InteractionDisposition","date":"${dispo.date}","guid":"u1","campaign":"Sales",` +
          '"agent":"ana","clientId":"c-9","dispositionId":11,"l1":"Sale","l2":"Cash","l3":null}',
      ].sort(),
    );
    assert.deepEqual(
      rx.requests.filter((r) => r.path === '/native'),
      [],
      'a row not marked for the bridge got an event',
    );
    assert.equal(await bridge.stop(), 0);
  });
});
