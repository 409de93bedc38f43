// binlog_row_metadata=MINIMAL (column names come from INFORMATION_SCHEMA) and a bridge behind an
// ALTER TABLE ... DROP COLUMN: the rows written before the ALTER cannot be decoded with today's
// columns, and the binlog does not say which column went. The rules on that table stop (fail
// closed, UCW_ERR_RULES_SCHEMA_DRIFT with table and position); rules on other tables go on; the
// bridge neither reconnects forever nor stops.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const PRIVATE = privateServerOnly('sets binlog_row_metadata globally');

void describe('schema drift while the bridge is behind, binlog_row_metadata=MINIMAL', { skip: PRIVATE }, () => {
  const env = useIntegrationEnv();
  before(() => env.src.db.exec("SET GLOBAL binlog_row_metadata = 'MINIMAL'"));
  /** KILLs every binlog dump thread (an earlier test's stopped bridge may still have one). */
  const killDumpThreads = async (): Promise<void> => {
    const [rows] = (await env.src.admin.query(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
    )) as unknown as [Array<{ ID: number }>];
    assert.ok(rows.length > 0, 'no binlog dump thread');
    for (const r of rows) await env.src.admin.query(`KILL ${r.ID}`).catch(() => undefined);
  };

  void test('the rules of the altered table stop with UCW_ERR_RULES_SCHEMA_DRIFT; the others deliver', async () => {
    const { src, rx } = env;
    await src.tx(
      setUrl('AgentLog', rx.urlFor('/log')),
      setUrl('AgentBreak', rx.urlFor('/break')),
      setUrl('FinishInteraction', rx.urlFor('/fin')),
    );
    // A long first reconnect delay: the ALTER happens while the bridge is away.
    const bridge = env.startBridge({ args: ['--reconnect-min-ms', '3000', '--reconnect-max-ms', '3000'] });
    await bridge.waitReady();
    await src.tx(queueLog({ time: '2026-03-02 09:00:00.000', event: 'PAUSE', agent: 'ana', data1: 'Lunch' }));
    await waitFor(() => rx.requests.length === 1, { message: 'break before the ALTER not delivered' });

    await killDumpThreads();
    await bridge.waitForLog((l) => l.msg === 'source unavailable; reconnecting', 'stream dropped');
    await src.tx(queueLog({ time: '2026-03-02 09:10:00.000', event: 'UNPAUSE', agent: 'ana', data1: 'Lunch' }));
    await src.admin.query('ALTER TABLE ccrepo.queue_log_repo DROP COLUMN data1');
    await src.tx([
      'INSERT INTO ccrepo.queue_log_repo (time, agent, event) VALUES (?, ?, ?)',
      ['2026-03-02 09:20:00.000', 'ana', 'AGENTLOGOFF'],
    ]);
    await src.tx(
      'INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, channel, agent, finished) ' +
        "VALUES ('g1', '2026-03-02 09:30:00', '2026-03-02 09:31:00', 'Ventas<-', 'telephony', 'ana', 1)",
    );

    await waitFor(() => rx.requests.some((r) => r.path === '/fin'), {
      timeoutMs: 20_000,
      message: () =>
        `no FinishInteraction; ${JSON.stringify(bridge.logs.filter((l) => l.level !== 'debug').slice(-6))}`,
    });
    const drift = bridge.logs.filter((l) => l.code === 'UCW_ERR_RULES_SCHEMA_DRIFT');
    assert.deepEqual(drift.map((d) => d.rule).sort(), ['agent_break', 'agent_log', 'agent_ring_no_answer']);
    for (const d of drift) {
      assert.equal(d.table, 'ccrepo.queue_log_repo');
      assert.match(String(d.position), /^binlog\.\d+:\d+$/);
    }
    // Fail closed: nothing from queue_log_repo after the KILL, nothing made up.
    assert.deepEqual(
      rx.requests.map((r) => r.path),
      ['/break', '/fin'],
    );
    assert.ok(!bridge.logs.some((l) => l.level === 'fatal'), 'the bridge keeps running');
    assert.equal(
      bridge.logs.filter((l) => l.msg === 'source unavailable; reconnecting').length,
      1,
      'no reconnect loop',
    );
    assert.equal(await bridge.stop(), 0);
  });

  void test('a mirrored table (a directory) that cannot be decoded stops the bridge with the code', async () => {
    const { src } = env;
    await src.admin.query('ALTER TABLE ccrepo.queue_log_repo ADD COLUMN data1 VARCHAR(200) NULL AFTER event');
    const bridge = env.startBridge({ args: ['--reconnect-min-ms', '3000', '--reconnect-max-ms', '3000'] });
    await bridge.waitReady();
    await killDumpThreads();
    await bridge.waitForLog((l) => l.msg === 'source unavailable; reconnecting', 'stream dropped');
    await src.tx(
      "INSERT INTO ccdata.users (username, phone, name, email) VALUES ('bea', '2002', 'Bea', 'bea@example.com')",
    );
    await src.admin.query('ALTER TABLE ccdata.users DROP COLUMN email');
    assert.equal(await bridge.waitExit(), 2);
    const fatal = bridge.logs.find((l) => l.level === 'fatal');
    assert.equal(fatal?.code, 'UCW_ERR_RULES_SCHEMA_DRIFT');
    assert.equal(fatal?.table, 'ccdata.users');
  });
});
