// Living beside uContact's own sender: with `registry.when`, only the webhooks rows marked for the
// bridge register URLs; the others are left to uContact. A change of the marking column takes effect
// at its binlog position, also in the middle of a transaction, like any registration change.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_RULES } from '../../src/rules/default-rules.js';
import type { RulesFileInput } from '../../src/rules/schema.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

function rulesFile(dir: string, when: NonNullable<RulesFileInput['registry']['when']>): string {
  const rules = structuredClone(DEFAULT_RULES);
  rules.registry = { ...rules.registry, when };
  const path = join(dir, 'rules.json');
  writeFileSync(path, JSON.stringify(rules));
  return path;
}

const mark = (event: string, url: string, user: string | null): [string, unknown[]] => [
  'UPDATE ccdata.webhooks SET url = ?, user = ? WHERE name = ?',
  [url, user, event],
];

void describe('registry.when: rows marked for the bridge', () => {
  const env = useIntegrationEnv();

  void test('a condition naming an unknown column is refused at start with its path', async () => {
    const stateDir = env.src.stateDir();
    const path = rulesFile(stateDir, { column: 'owner', eq: 'ucontact-webhooks' });
    const bridge = env.startBridge({ stateDir, args: ['--rules', path] });
    assert.equal(await bridge.waitExit(), 2, 'rules problems exit 2');
    assert.equal(bridge.logs.find((l) => l.level === 'fatal')?.code, 'UCW_ERR_RULES_SCHEMA');
    assert.match(bridge.stderr.join(''), /registry\.when\.column: column ccdata\.webhooks\.owner does not exist/);
  });

  void test('marked rows get events, others do not; a change of `user` counts from its position', async () => {
    const { src, rx } = env;
    await src.reset();
    const stateDir = src.stateDir();
    const path = rulesFile(stateDir, { column: 'user', eq: 'ucontact-webhooks' });
    await src.tx(
      mark('AgentLog', rx.urlFor('/bridge-log'), 'ucontact-webhooks'),
      mark('AgentBreak', rx.urlFor('/break'), null),
    );
    const bridge = env.startBridge({ stateDir, args: ['--rules', path] });
    await bridge.waitReady();

    await src.tx(queueLog({ time: '2026-03-02 09:00:00.000', event: 'AGENTLOGIN', agent: 'ana' }));
    await waitFor(() => rx.requests.length === 1, { message: 'login not delivered' });
    await src.tx(queueLog({ time: '2026-03-02 09:01:00.000', event: 'PAUSE', agent: 'ana', data1: 'Before' }));
    // One transaction: a break before the row is marked, the marking, a break after it.
    await src.tx(
      queueLog({ time: '2026-03-02 09:02:00.000', event: 'UNPAUSE', agent: 'ana', data1: 'Before' }),
      "UPDATE ccdata.webhooks SET user = 'ucontact-webhooks' WHERE name = 'AgentBreak'",
      queueLog({ time: '2026-03-02 09:03:00.000', event: 'PAUSE', agent: 'ana', data1: 'After' }),
    );
    // And unmarked again: the logoff after it goes nowhere.
    await src.tx(
      "UPDATE ccdata.webhooks SET user = 'admin' WHERE name = 'AgentLog'",
      queueLog({ time: '2026-03-02 09:04:00.000', event: 'AGENTLOGOFF', agent: 'ana' }),
      queueLog({ time: '2026-03-02 09:05:00.000', event: 'UNPAUSE', agent: 'ana', data1: 'Last' }),
    );
    await waitFor(() => rx.requests.some((r) => r.body.includes('"Last"')), {
      message: () => `last break not delivered; ${JSON.stringify(rx.requests.map((r) => r.path))}`,
    });
    assert.deepEqual(
      rx.requests.map((r) => `${r.path} ${r.body}`),
      [
        '/bridge-log {"event":"AgentLog","date":"2026-03-02 09:00:00","agent":"ana","isLogin":true}',
        '/break {"event":"AgentBreak","date":"2026-03-02 09:03:00","agent":"ana","motive":"After","isBreak":true}',
        '/break {"event":"AgentBreak","date":"2026-03-02 09:05:00","agent":"ana","motive":"Last","isBreak":false}',
      ],
    );
    assert.equal(await bridge.stop(), 0);
  });
});
