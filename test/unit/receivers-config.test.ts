// The `receivers` section through the real loader: shapes accepted, references to the environment
// and to files read, every problem listed with its path (a protocol header, an unset variable, two
// entries for one prefix), short secrets and the deprecated --envelope-url-prefix warned with codes,
// and no secret or header value in any message or warning.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, loadConfigWithOrigins, type ConfigWarning } from '../../src/config/config.js';
import { forbiddenHeader } from '../../src/config/receivers.js';
import { BridgeError } from '../../src/errors.js';

const MYSQL = 'mysql://bridge:pw@db.example:3306/';
const LONG = `whsec_${Buffer.from('a receiver secret of 32 bytes!!!').toString('base64')}`;
const TOKEN = 'Bearer tok-0123456789-very-secret';

void describe('receivers config', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-receivers-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = (value: unknown): string => {
    const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };
  const load = (receivers: unknown, env: Record<string, string> = {}, warnings: ConfigWarning[] = []) =>
    loadConfig({
      cli: { mysqlUrl: MYSQL },
      env,
      configFile: configFile({ receivers }),
      onWarning: (w) => warnings.push(w),
    });
  const problems = (receivers: unknown, env: Record<string, string> = {}): string => {
    try {
      load(receivers, env);
    } catch (err) {
      assert.ok(err instanceof BridgeError);
      assert.equal(err.code, 'UCW_ERR_CONFIG_INVALID');
      return err.message;
    }
    assert.fail('expected UCW_ERR_CONFIG_INVALID');
  };

  void it('defaults to no receivers', () => {
    assert.deepEqual(loadConfig({ cli: { mysqlUrl: MYSQL }, env: {} }).receivers, []);
  });

  void it('reads every field, secrets and headers from the file, the environment and secret files', () => {
    const secretFile = join(dir, 'secrets');
    writeFileSync(secretFile, `${LONG}\nsecond-secret-that-is-long-enough\n`);
    chmodSync(secretFile, 0o600);
    const oneSecret = join(dir, 'one-secret');
    writeFileSync(oneSecret, `${LONG}\n\n`, { mode: 0o600 });
    const cfg = load(
      [
        {
          name: 'crm',
          url: 'https://crm.example/hook',
          signingSecrets: [LONG, { env: 'ROTATED' }],
          headers: { Authorization: { env: 'CRM_TOKEN' }, 'X-Tenant': 'acme' },
          rateLimitPerSecond: 20,
          timeoutMs: 1500,
          connectTimeoutMs: 700,
          concurrency: 3,
          bodyFormat: 'envelope',
          maxAttempts: 4,
          maxAgeMs: 60_000,
        },
        { urlPrefix: 'https://internal.example/', signingSecretsFile: secretFile },
        { urlPrefix: 'https://any.example/', signingSecrets: [{ file: oneSecret }] },
      ],
      { CRM_TOKEN: TOKEN, ROTATED: 'env-secret-that-is-long-enough-too' },
    );
    const [crm, internal, any] = cfg.receivers;
    assert.equal(crm!.label, 'crm');
    assert.deepEqual(crm!.signingSecrets, [LONG, 'env-secret-that-is-long-enough-too']);
    assert.deepEqual(crm!.secretOrigins, ['file', 'env:ROTATED']);
    assert.deepEqual(crm!.headers, { Authorization: TOKEN, 'X-Tenant': 'acme' });
    assert.deepEqual(crm!.headerOrigins, { Authorization: 'env:CRM_TOKEN', 'X-Tenant': 'file' });
    assert.deepEqual(
      [crm!.rateLimitPerSecond, crm!.timeoutMs, crm!.connectTimeoutMs, crm!.concurrency, crm!.bodyFormat],
      [20, 1500, 700, 3, 'envelope'],
    );
    assert.deepEqual([crm!.maxAttempts, crm!.maxAgeMs], [4, 60_000]);
    assert.equal(internal!.label, 'receivers[1]');
    assert.deepEqual(internal!.signingSecrets, [LONG, 'second-secret-that-is-long-enough']);
    // A { file } reference is one secret: the whole file, trailing newlines trimmed.
    assert.deepEqual(any!.signingSecrets, [LONG]);
    assert.equal(any!.secretOrigins![0], `file:${oneSecret}`);
  });

  void it('refuses a header that would override a protocol header, in any case, naming its path', () => {
    const msg = problems([
      {
        url: 'https://a.example/',
        headers: {
          'Content-Type': 'text/plain',
          'webhook-signature': 'v1,forged',
          'CE-Type': 'x',
          HOST: 'evil.example',
          'Content-Length': '1',
          'ok-header': TOKEN,
        },
      },
    ]);
    for (const path of [
      'receivers[0].headers.Content-Type: would override the protocol header content-type',
      'receivers[0].headers.webhook-signature: would override',
      'receivers[0].headers.CE-Type: would override',
      'receivers[0].headers.HOST: would override',
      'receivers[0].headers.Content-Length: would override',
    ])
      assert.ok(msg.includes(path), `${path} missing from:\n${msg}`);
    assert.ok(!msg.includes('ok-header'), 'an allowed header is not a problem');
    for (const value of ['text/plain', 'v1,forged', 'evil.example', TOKEN]) assert.ok(!msg.includes(value), value);
  });

  void it('lists every problem of every entry at once, each with its path', () => {
    const msg = problems([
      { url: 'https://a.example/', urlPrefix: 'https://a.example/' },
      { name: 'b' },
      { urlPrefix: 'https://c.example/', rateLimitPerSecond: 0, concurrency: 5000, bodyFormat: 'xml' },
      { urlPrefix: 'https://c.example/' },
      { url: 'https://d.example/', headers: { Authorization: { env: 'UNSET_TOKEN' } }, secret: 'typo' },
    ]);
    for (const part of [
      'receivers[0]: needs exactly one of url or urlPrefix',
      'receivers[1]: needs exactly one of url or urlPrefix',
      'receivers[2].rateLimitPerSecond',
      'receivers[2].concurrency',
      'receivers[2].bodyFormat',
      'receivers[3]: matches the same URLs as receivers[2]',
      'receivers[4]: Unrecognized key: "secret"',
    ])
      assert.ok(msg.includes(part), `${part} missing from:\n${msg}`);
  });

  void it('refuses a url or urlPrefix that is not an http(s) URL, naming its path', () => {
    const msg = problems([
      { urlPrefix: 'hooks.partner.com' },
      { url: 'ftp://a.example/x' },
      { urlPrefix: 'https://ok.example/' },
      { url: 'http://' },
    ]);
    for (const part of [
      'receivers[0].urlPrefix: is not an http(s) URL',
      'receivers[1].url: is not an http(s) URL',
      'receivers[3].url: is not an http(s) URL',
    ])
      assert.ok(msg.includes(part), `${part} missing from:\n${msg}`);
    assert.ok(!msg.includes('receivers[2]'), msg);
  });

  void it('an unset environment reference or a bad whsec_ secret is an error with its path, never the value', () => {
    const msg = problems(
      [
        { url: 'https://d.example/', headers: { Authorization: { env: 'UNSET_TOKEN' } } },
        { url: 'https://e.example/', signingSecrets: ['whsec_not base64!', { env: 'EMPTY' }] },
      ],
      { EMPTY: '' },
    );
    assert.ok(msg.includes('receivers[0].headers.Authorization: environment variable UNSET_TOKEN is not set'), msg);
    assert.ok(msg.includes('receivers[1].signingSecrets[0]: starts with "whsec_" but the rest is not valid'), msg);
    assert.ok(msg.includes('receivers[1].signingSecrets[1]: environment variable EMPTY'), msg);
    assert.ok(!msg.includes('not base64!'), msg);
  });

  void it('a world-readable secret file is refused with its path', () => {
    const open = join(dir, 'open-secret');
    writeFileSync(open, `${LONG}\n`);
    chmodSync(open, 0o644);
    const msg = problems([{ url: 'https://a.example/', signingSecretsFile: open }]);
    assert.ok(msg.includes(`receivers[0].signingSecretsFile: secret file ${open} is readable by other users`), msg);
    assert.ok(!msg.includes(LONG), msg);
  });

  void it('warns of secrets shorter than 24 bytes by path (receivers and global), never by value', () => {
    const warnings: ConfigWarning[] = [];
    const short = 'short-secret';
    load([{ url: 'https://a.example/', signingSecrets: [LONG, short] }], {}, warnings);
    assert.deepEqual(warnings, [
      { code: 'UCW_WARN_CONFIG_SHORT_SECRET', path: 'receivers[0].signingSecrets[1]', bytes: 12 },
    ]);
    const global: ConfigWarning[] = [];
    loadConfig({ cli: { mysqlUrl: MYSQL, signingSecret: [short] }, env: {}, onWarning: (w) => global.push(w) });
    assert.deepEqual(global, [{ code: 'UCW_WARN_CONFIG_SHORT_SECRET', path: 'signingSecret[0]', bytes: 12 }]);
    assert.ok(!JSON.stringify([...warnings, ...global]).includes(short));
  });

  void it('warns of a concurrency above --concurrency-total, by option or receivers path', () => {
    const warnings: ConfigWarning[] = [];
    load(
      [
        { url: 'https://a.example/', concurrency: 300 },
        { url: 'https://b.example/', concurrency: 100 },
      ],
      {},
      warnings,
    );
    assert.deepEqual(warnings, [
      {
        code: 'UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL',
        option: 'receivers[0].concurrency',
        concurrency: 300,
        total: 128,
      },
    ]);
    const global: ConfigWarning[] = [];
    loadConfig({
      cli: { mysqlUrl: MYSQL, concurrencyPerUrl: 64, concurrencyTotal: 48 },
      env: {},
      onWarning: (w) => global.push(w),
    });
    assert.deepEqual(global, [
      { code: 'UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL', option: '--concurrency-per-url', concurrency: 64, total: 48 },
    ]);
  });

  void it('--envelope-url-prefix still works, with a deprecation warning', () => {
    const warnings: ConfigWarning[] = [];
    const cfg = loadConfig({
      cli: { mysqlUrl: MYSQL, envelopeUrlPrefix: ['https://old.example/'] },
      env: {},
      onWarning: (w) => warnings.push(w),
    });
    assert.deepEqual(cfg.envelopeUrlPrefix, ['https://old.example/']);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.code, 'UCW_WARN_CONFIG_DEPRECATED');
  });

  void it('tells where each value came from: default, file, env, flag, and the file a secret was read from', () => {
    const secretFile = join(dir, 'global-secrets');
    writeFileSync(secretFile, `${LONG}\n`);
    chmodSync(secretFile, 0o600);
    const { origins, config } = loadConfigWithOrigins({
      cli: { httpPort: 9999 },
      env: { UCW_MYSQL_URL: MYSQL, UCW_SIGNING_SECRET_FILE: secretFile },
      configFile: configFile({ stateDir: '/tmp/x', receivers: [] }),
    });
    assert.deepEqual(config.signingSecret, [LONG]);
    assert.deepEqual(origins.httpPort, { source: 'flag' });
    assert.deepEqual(origins.mysqlUrl, { source: 'env' });
    assert.deepEqual(origins.stateDir, { source: 'file' });
    assert.deepEqual(origins.receivers, { source: 'file' });
    assert.deepEqual(origins.timezone, { source: 'default' });
    assert.deepEqual(origins.signingSecret, { source: 'env', via: 'signingSecretFile' });
  });

  void it('forbiddenHeader: protocol and hop-by-hop headers and bad names, not ordinary ones', () => {
    for (const name of ['webhook-id', 'Webhook-Timestamp', 'ce-source', 'content-type', 'Host', 'Transfer-Encoding'])
      assert.ok(forbiddenHeader(name), name);
    assert.match(forbiddenHeader('bad header')!, /not a valid HTTP header name/);
    for (const name of ['Authorization', 'X-Api-Key', 'webhooks', 'cex'])
      assert.equal(forbiddenHeader(name), undefined);
  });
});
