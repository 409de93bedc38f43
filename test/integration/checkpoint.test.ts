// A checkpoint the server can no longer serve stops the bridge with a coded error and an explanation,
// never a silent skip; --reset-to-now is the explicit way on, and logs what it skipped. A state dir
// written against another server is refused.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startPrivateMariaDb } from '../../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../../demo/reference-schema.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const login = (agent: string): [string, unknown[]] =>
  queueLog({ time: '2026-03-02 08:00:00.000', event: 'AGENTLOGIN', agent });

void describe('checkpoint validity', () => {
  const env = useIntegrationEnv();

  void test(
    'purged checkpoint: UCW_ERR_SOURCE_BINLOG_GONE; --reset-to-now continues and logs the skip',
    { skip: privateServerOnly('purges the binlog') },
    async () => {
      const { src, rx } = env;
      await src.tx(setUrl('AgentLog', rx.urlFor('/log')));
      const stateDir = src.stateDir();
      const first = env.startBridge({ stateDir });
      await first.waitReady();
      await src.tx(login('before-stop'));
      await waitFor(() => rx.requests.length === 1);
      assert.equal(await first.stop(), 0);

      // While it is down: events, then the binlog that holds them is purged.
      for (let i = 0; i < 5; i++) await src.tx(login(`lost${i}`));
      const checkpointFile = JSON.stringify(first.logs.find((l) => l.msg === 'binlog stream open')?.from)
        .split(':')[0]!
        .slice(1);
      // MariaDB keeps a file while its crash recovery may need it, silently: purge until it is gone.
      await waitFor(
        async () => {
          await src.admin.query('FLUSH BINARY LOGS');
          const [status] = (await src.admin.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
          await src.admin.query(`PURGE BINARY LOGS TO '${status[0]!.File}'`);
          const [files] = (await src.admin.query('SHOW BINARY LOGS')) as unknown as [Array<{ Log_name: string }>];
          return !files.some((f) => f.Log_name === checkpointFile);
        },
        { message: `${checkpointFile} was never purged` },
      );

      const refused = env.startBridge({ stateDir });
      assert.equal(await refused.waitExit(), 1);
      const fatal = refused.logs.find((l) => l.level === 'fatal');
      assert.equal(fatal?.code, 'UCW_ERR_SOURCE_BINLOG_GONE', JSON.stringify(refused.logs.slice(-5)));
      assert.match(String(fatal?.hint), /--reset-to-now/);
      assert.match(refused.stderr.join(''), /UCW_ERR_SOURCE_BINLOG_GONE/);

      const reset = env.startBridge({ stateDir, args: ['--reset-to-now'] });
      await reset.waitReady();
      const warn = await reset.waitForLog((l) => l.code === 'UCW_WARN_SOURCE_RESET', 'reset warning');
      assert.equal(typeof warn.skippedBytes, 'number');
      assert.ok((warn.skippedBytes as number) > 0, 'the skip is measured');
      await src.tx(login('after-reset'));
      await waitFor(() => rx.requests.length === 2, { message: 'event after the reset not delivered' });
      assert.match(rx.requests[1]!.body, /after-reset/);
      assert.equal(await reset.stop(), 0);

      // The reset is one-off: the next start resumes from the (new) checkpoint without skipping.
      await src.tx(login('while-down'));
      const again = env.startBridge({ stateDir });
      await waitFor(() => rx.requests.length === 3, {
        message: 'event written while down not delivered after restart',
      });
      assert.ok(!again.logs.some((l) => l.code === 'UCW_WARN_SOURCE_RESET'));
    },
  );

  void test('a state dir from another server: UCW_ERR_SOURCE_CHECKPOINT_FOREIGN', async () => {
    const { src } = env;
    const stateDir = src.stateDir();
    const first = env.startBridge({ stateDir });
    await first.waitReady();
    await src.tx(login('x'));
    assert.equal(await first.stop(), 0);

    const other = await startPrivateMariaDb({ serverId: 2 });
    try {
      await other.exec(REFERENCE_SCHEMA_SQL);
      const bridge = env.startBridge({ stateDir, mysqlUrl: other.bridgeUrl });
      assert.equal(await bridge.waitExit(), 1);
      const fatal = bridge.logs.find((l) => l.level === 'fatal');
      assert.equal(fatal?.code, 'UCW_ERR_SOURCE_CHECKPOINT_FOREIGN', JSON.stringify(bridge.logs.slice(-5)));
      assert.match(String(fatal?.error), /server_id was 1, is 2/);
    } finally {
      await other.stop();
    }
  });
});
