// `config print` without a database: each option with its value and origin, secrets and header
// values redacted (only where each came from), URLs without query string or user info, each
// registered URL with the entry it gets, and the configuration's warnings on stderr by code.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfigWithOrigins } from '../../src/config/config.js';
import { printConfig, redactUrlText, renderConfigPrint } from '../../src/ops/config-print.js';

const GLOBAL = 'global-secret-value-0123456789abc';
const CRM = 'crm-secret-value-0123456789abcdef';
const TOKEN = 'Bearer crm-token-abcdef';
const PASSWORD = 'db-p4ssw0rd';

const sink = (): { stream: Writable; text: () => string } => {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
};

void describe('config print', () => {
  let dir = '';
  let configFile = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-config-print-'));
    configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        stateDir: '/var/lib/ucw',
        receivers: [
          {
            name: 'crm',
            url: 'https://crm.example/hook?key=qs-token',
            signingSecrets: [CRM],
            headers: { Authorization: { env: 'CRM_TOKEN' } },
            rateLimitPerSecond: 20,
          },
          { urlPrefix: 'https://hooks.example/', bodyFormat: 'envelope' },
        ],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sources = () => ({
    cli: { httpPort: 9999 },
    env: { UCW_MYSQL_URL: `mysql://bridge:${PASSWORD}@db.example:3306/`, UCW_SIGNING_SECRET: GLOBAL, CRM_TOKEN: TOKEN },
    configFile,
  });

  void it('redacts every secret and header value, keeps where each came from, matches registered URLs', () => {
    const loaded = loadConfigWithOrigins(sources());
    const doc = renderConfigPrint(loaded, [
      { url: 'https://crm.example/hook?key=qs-token', events: ['AgentLog'] },
      { url: 'https://hooks.example/zap/1', events: ['AgentBreak', 'FinishInteraction'] },
      { url: 'https://other.example/', events: ['AgentLog'] },
    ]) as {
      options: Record<string, unknown>;
      receivers: { source: string; entries: Array<Record<string, unknown>> };
      registeredUrls: Array<Record<string, unknown>>;
    };
    const text = JSON.stringify(doc);
    for (const secret of [GLOBAL, CRM, TOKEN, PASSWORD, 'qs-token']) assert.ok(!text.includes(secret), secret);
    assert.deepEqual(doc.options.mysqlUrl, { value: 'mysql://[redacted]@db.example:3306/', source: 'env' });
    assert.deepEqual(doc.options.signingSecret, { value: ['[redacted]'], source: 'env' });
    assert.deepEqual(doc.options.httpPort, { value: 9999, source: 'flag' });
    assert.deepEqual(doc.options.stateDir, { value: '/var/lib/ucw', source: 'file' });
    assert.deepEqual(doc.options.timezone, { value: 'UTC', source: 'default' });
    assert.equal(doc.receivers.source, 'file');
    assert.deepEqual(doc.receivers.entries[0], {
      receiver: 'crm',
      url: 'https://crm.example/hook?[redacted]',
      signingSecrets: [{ value: '[redacted]', from: 'file' }],
      headers: { Authorization: { value: '[redacted]', from: 'env:CRM_TOKEN' } },
      rateLimitPerSecond: 20,
    });
    assert.equal(doc.receivers.entries[1]!.urlPrefix, 'https://hooks.example/');
    assert.equal(doc.receivers.entries[1]!.signingSecrets, 'global (--signing-secret)');
    const [crm, hooks, other] = doc.registeredUrls;
    assert.deepEqual([crm!.receiver, hooks!.receiver, other!.receiver], ['crm', 'receivers[1]', null]);
    assert.deepEqual(crm!.settings, {
      signingSecrets: '1 of its own',
      headers: ['Authorization'],
      rateLimitPerSecond: 20,
      timeoutMs: 10_000,
      connectTimeoutMs: 5_000,
      concurrency: 32,
      bodyFormat: 'ucontact',
      maxAttempts: 15,
      maxAgeMs: 86_400_000,
    });
    assert.equal((hooks!.settings as { bodyFormat: string }).bodyFormat, 'envelope');
    assert.equal((other!.settings as { signingSecrets: string }).signingSecrets, 'global');
  });

  void it('runs without a source server: no registered URLs; warnings go to stderr with their code', async () => {
    const out = sink();
    const err = sink();
    const code = await printConfig(
      { cli: { signingSecret: ['short'] }, env: {}, configFile: undefined },
      out.stream,
      err.stream,
    );
    assert.equal(code, 0);
    const doc = JSON.parse(out.text()) as Record<string, unknown>;
    assert.equal(doc.registeredUrls, undefined);
    assert.deepEqual((doc.options as Record<string, unknown>).mysqlUrl, { value: null, source: 'default' });
    assert.match(err.text(), /UCW_WARN_CONFIG_SHORT_SECRET: signing secret at signingSecret\[0\] is 5 bytes/);
    // The secret itself ("short") is in neither stream (the code's SHORT is upper case).
    assert.ok(!err.text().includes('short') && !out.text().includes('short'));
  });

  void it('redactUrlText drops user info and the query string, keeps a prefix otherwise as written', () => {
    assert.equal(redactUrlText('https://u:p@h.example/a?b=c#d'), 'https://h.example/a?[redacted]');
    assert.equal(redactUrlText('https://h.example/a'), 'https://h.example/a');
    assert.equal(redactUrlText('https://h.example'), 'https://h.example');
  });

  void it('redactUrlText drops user info up to its last @ (a password may hold @), as URL parsing does', () => {
    assert.equal(redactUrlText('https://u:p@ss@host/'), 'https://host/');
    assert.equal(new URL('https://u:p@ss@host/').host, 'host');
    assert.equal(redactUrlText('https://u@x:p@ss@host:8443/a@b?t=1@2'), 'https://host:8443/a@b?[redacted]');
    assert.equal(redactUrlText('https://u:p@ss@host'), 'https://host');
    // Not a URL, but an @ that may end user info: nothing of it is printed.
    assert.equal(redactUrlText('https://u:p/ss@host/'), '[redacted]');
  });
});
