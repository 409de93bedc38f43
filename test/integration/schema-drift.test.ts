// Rules are checked against the live schema at start; a mapped table altered under a running bridge
// stops only the rules that read the changed column (fail closed), with the table, column and binlog
// position in a coded error, while the other rules keep delivering.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_RULES } from '../../src/rules/default-rules.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { agentOf } from '../helpers/bodies.js';

void describe('rules versus the live schema', () => {
  const env = useIntegrationEnv();

  void test('a rules file naming a missing column is refused at start with UCW_ERR_RULES_SCHEMA', async () => {
    const stateDir = env.src.stateDir();
    const rules = structuredClone(DEFAULT_RULES);
    const breakRule = rules.rules.find((r) => r.event === 'AgentBreak')!;
    breakRule.fields.motive = { column: 'reason_text' };
    const path = join(stateDir, 'rules.json');
    writeFileSync(path, JSON.stringify(rules));
    const bridge = env.startBridge({ stateDir, args: ['--rules', path] });
    assert.equal(await bridge.waitExit(), 2, 'rules problems exit 2');
    const fatal = bridge.logs.find((l) => l.level === 'fatal');
    assert.equal(fatal?.code, 'UCW_ERR_RULES_SCHEMA');
    assert.match(bridge.stderr.join(''), /column ccrepo\.queue_log_repo\.reason_text does not exist/);
  });

  void test('ALTER TABLE dropping a used column stops that rule only, naming table, column and position', async (t) => {
    const { src, rx } = env;
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')), setUrl('AgentBreak', rx.urlFor('/break')));
    const bridge = env.startBridge();
    await bridge.waitReady();
    await src.tx(queueLog({ time: '2026-03-02 09:00:00.000', event: 'PAUSE', agent: 'ana', data1: 'Lunch' }));
    await waitFor(() => rx.requests.length === 1, { message: 'break before the ALTER not delivered' });

    await src.admin.query('ALTER TABLE ccrepo.queue_log_repo DROP COLUMN data1');
    // Given back after the test (the tests after it read data1), as the reference schema has it.
    t.after(() => src.admin.query('ALTER TABLE ccrepo.queue_log_repo ADD COLUMN data1 VARCHAR(200) NULL AFTER event'));
    await src.tx([
      'INSERT INTO ccrepo.queue_log_repo (time, agent, event) VALUES (?, ?, ?)',
      ['2026-03-02 09:10:00.000', 'ana', 'UNPAUSE'],
    ]);
    await src.tx([
      'INSERT INTO ccrepo.queue_log_repo (time, agent, event) VALUES (?, ?, ?)',
      ['2026-03-02 09:20:00.000', 'ana', 'AGENTLOGOFF'],
    ]);
    await src.tx([
      'INSERT INTO ccrepo.queue_log_repo (time, agent, event) VALUES (?, ?, ?)',
      ['2026-03-02 09:30:00.000', 'ana', 'PAUSE'],
    ]);
    await src.tx([
      'INSERT INTO ccrepo.queue_log_repo (time, agent, event) VALUES (?, ?, ?)',
      ['2026-03-02 09:40:00.000', 'ana', 'AGENTLOGIN'],
    ]);

    await waitFor(() => rx.requests.filter((r) => r.path === '/log').length === 2, { message: 'AgentLog stopped too' });
    const drift = bridge.logs.filter((l) => l.code === 'UCW_ERR_RULES_SCHEMA_DRIFT');
    assert.ok(drift.length >= 1, 'drift reported');
    const reportedRules = new Set(drift.map((d) => d.rule));
    assert.ok(reportedRules.has('agent_break'));
    assert.ok(!reportedRules.has('agent_log'), 'agent_log does not read data1');
    assert.equal(drift.filter((d) => d.rule === 'agent_break').length, 1, 'reported once');
    const d = drift.find((x) => x.rule === 'agent_break')!;
    assert.equal(d.table, 'ccrepo.queue_log_repo');
    assert.equal(d.column, 'data1');
    assert.match(String(d.position), /^binlog\.\d+:\d+$/);
    // Fail closed: no AgentBreak after the ALTER, and none with a made-up motive.
    assert.deepEqual(rx.requests.filter((r) => r.path === '/break').length, 1);
    assert.equal(await bridge.stop(), 0);
  });

  for (const column of ['url', 'event'] as const) {
    void test(`the registry losing its ${column} column stops the bridge with a code, no URL dropped`, async () => {
      const { src, rx } = env;
      rx.clear();
      await src.tx(setUrl('AgentLog', rx.urlFor(`/reg-${column}`)));
      // Kept aside so the next test gets the table back whole.
      await src.admin.query('DROP TABLE IF EXISTS ccdata.webhooks_saved');
      await src.admin.query('CREATE TABLE ccdata.webhooks_saved LIKE ccdata.webhooks');
      await src.admin.query('INSERT INTO ccdata.webhooks_saved SELECT * FROM ccdata.webhooks');
      const bridge = env.startBridge();
      try {
        await bridge.waitReady();
        await src.tx(queueLog({ time: '2026-03-02 08:00:00.000', event: 'AGENTLOGIN', agent: 'before' }));
        await waitFor(() => rx.requests.length === 1, { message: 'event before the ALTER not delivered' });

        await src.admin.query(`ALTER TABLE ccdata.webhooks DROP COLUMN ${column}`);
        // A registry row changes after the ALTER: read without the column, it would unregister its URL.
        await src.tx("UPDATE ccdata.webhooks SET description = 'touched'");
        await src.tx(queueLog({ time: '2026-03-02 08:01:00.000', event: 'AGENTLOGIN', agent: 'after' }));
        // Fail closed: the registrations can no longer be read, so the bridge stops, naming the table and
        // column, before it handles anything after the ALTER with registrations it no longer knows.
        assert.equal(await bridge.waitExit(), 2, 'stops with exit 2, as every rules problem does');
        const fatal = bridge.logs.find((l) => l.level === 'fatal');
        assert.equal(fatal?.code, 'UCW_ERR_RULES_SCHEMA_DRIFT', JSON.stringify(bridge.logs.slice(-5)));
        assert.match(bridge.stderr.join(''), /ccdata\.webhooks/);
        assert.match(bridge.stderr.join(''), new RegExp(`\\b${column}\\b`));
        assert.deepEqual(
          rx.requests.map((r) => agentOf(r.body)),
          ['before'],
        );
      } finally {
        await bridge.kill();
        await src.admin.query('DROP TABLE ccdata.webhooks');
        await src.admin.query('RENAME TABLE ccdata.webhooks_saved TO ccdata.webhooks');
      }
    });
  }
});
