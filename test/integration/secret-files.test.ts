// Secrets from files end to end: a bridge given only UCW_MYSQL_URL_FILE and UCW_SIGNING_SECRET_FILE
// connects and signs with every secret of the file, and neither secret shows in its argv (what `ps`
// shows every local user) or its logs; a group-readable secret file stops it before it starts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const NEW_KEY = Buffer.from('new-signing-key-0123456789');
const OLD_SECRET = 'old-plain-text-signing-secret';

void describe('secrets from files', () => {
  const env = useIntegrationEnv();
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-secrets-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = (name: string, text: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };

  void test('only *_FILE variables: connects, signs with each secret, leaks neither to argv or logs', async () => {
    const { src, rx } = env;
    await src.reset();
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')));
    rx.clear();
    const password = new URL(src.db.bridgeUrl).password;
    assert.ok(password.length >= 8);
    const newSecret = `whsec_${NEW_KEY.toString('base64')}`;
    const bridge = env.startBridge({
      mysqlUrl: undefined,
      env: {
        UCW_MYSQL_URL_FILE: secretFile('mysql-url', `${src.db.bridgeUrl}\n`, 0o600),
        UCW_SIGNING_SECRET_FILE: secretFile('signing', `${newSecret}\n${OLD_SECRET}\n`, 0o400),
      },
    });
    await bridge.waitReady();
    await src.tx(queueLog({ time: '2026-03-02 12:00:01.000', event: 'AGENTLOGIN', agent: 'jdoe' }));
    await waitFor(() => rx.requests.length === 1, { message: () => `${rx.requests.length}/1 deliveries` });
    const req = rx.requests[0]!;
    const content = `${String(req.headers['webhook-id'])}.${String(req.headers['webhook-timestamp'])}.${req.body}`;
    const expected = [NEW_KEY, Buffer.from(OLD_SECRET)].map(
      (k) => `v1,${createHmac('sha256', k).update(content).digest('base64')}`,
    );
    assert.equal(req.headers['webhook-signature'], expected.join(' '));

    const cmdline = readFileSync(`/proc/${bridge.pid}/cmdline`, 'utf8').split('\0').join(' ');
    const ps = execFileSync('ps', ['-ww', '-o', 'args=', '-p', String(bridge.pid)], { encoding: 'utf8' });
    assert.match(cmdline, /cli\.js run/);
    assert.equal(await bridge.stop(), 0);
    const logs = JSON.stringify(bridge.logs) + bridge.stderr.join('');
    assert.ok(bridge.logs.some((l) => l.msg === 'bridge started'));
    for (const [what, text] of [
      ['argv', cmdline],
      ['ps', ps],
      ['logs', logs],
    ] as const) {
      for (const secret of [password, NEW_KEY.toString('base64'), OLD_SECRET]) {
        assert.ok(!text.includes(secret), `a secret appears in the ${what}`);
      }
    }
  });

  void test('a group-readable secret file: exit 2 with UCW_ERR_CONFIG_SECRET_FILE, content not shown', async () => {
    const { src } = env;
    const path = secretFile('mysql-url-640', `${src.db.bridgeUrl}\n`, 0o640);
    const bridge = env.startBridge({ mysqlUrl: undefined, env: { UCW_MYSQL_URL_FILE: path } });
    assert.equal(await bridge.waitExit(), 2);
    const stderr = bridge.stderr.join('');
    assert.match(
      stderr,
      /UCW_ERR_CONFIG_SECRET_FILE: secret file .*mysql-url-640 is readable by its group \(mode 0640\)/,
    );
    assert.match(stderr, /chmod 600/);
    assert.ok(!stderr.includes(new URL(src.db.bridgeUrl).password));
  });
});
