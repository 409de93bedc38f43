// Secrets read from files (--mysql-url-file, --signing-secret-file and their UCW_*_FILE variables):
// accepted only from files no other user can read, never echoed in an error, never both value and file.

import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type ConfigSources } from '../../src/config/config.js';
import { BridgeError } from '../../src/errors.js';

const URL = 'mysql://bridge:s3cret-pw@db.example:3306/';

function refusal(sources: ConfigSources): BridgeError {
  let caught: unknown;
  try {
    loadConfig(sources);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BridgeError, `expected a BridgeError, got ${String(caught)}`);
  return caught;
}

void describe('secret files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-secret-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const secretFile = (name: string, text: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };

  void it('reads the source URL from a 0600 file given by UCW_MYSQL_URL_FILE, trailing newline trimmed', () => {
    const path = secretFile('url-600', `${URL}\n`, 0o600);
    const cfg = loadConfig({ cli: {}, env: { UCW_MYSQL_URL_FILE: path } });
    assert.equal(cfg.mysqlUrl, URL);
  });

  void it('reads the source URL from a 0400 file given by --mysql-url-file', () => {
    const path = secretFile('url-400', `${URL}\r\n`, 0o400);
    assert.equal(loadConfig({ cli: { mysqlUrlFile: path }, env: {} }).mysqlUrl, URL);
  });

  void it('reads one signing secret per line (rotation), skipping blank lines', () => {
    const path = secretFile('signing', 'whsec_bmV3LXNlY3JldA==\nwhsec_b2xkLXNlY3JldA==\n\n', 0o600);
    const cfg = loadConfig({ cli: { mysqlUrl: URL }, env: { UCW_SIGNING_SECRET_FILE: path } });
    assert.deepEqual(cfg.signingSecret, ['whsec_bmV3LXNlY3JldA==', 'whsec_b2xkLXNlY3JldA==']);
    assert.deepEqual(
      loadConfig({ cli: { mysqlUrl: URL, signingSecretFile: path }, env: {} }).signingSecret,
      cfg.signingSecret,
    );
  });

  // Kubernetes mounts a secret volume root-owned and, with a pod fsGroup, adds group read for that
  // group: 0400 becomes 0440 and the bridge can read it only through its supplementary group.
  const root = process.getuid?.() === 0;
  void it(
    'accepts a group-readable file it reads only through its group (Kubernetes fsGroup), with a warning',
    { skip: !root && 'needs root to chown' },
    () => {
      const path = secretFile('url-fsgroup', `${URL}\n`, 0o440);
      const group = process.getgroups!()[0]!;
      chownSync(path, 4321, group);
      const warnings: unknown[] = [];
      const cfg = loadConfig({ cli: {}, env: { UCW_MYSQL_URL_FILE: path }, onWarning: (w) => warnings.push(w) });
      assert.equal(cfg.mysqlUrl, URL);
      assert.deepEqual(warnings, [{ code: 'UCW_WARN_SECRET_FILE_GROUP', path, mode: '0440', group }]);
      // The same mode on a file the bridge's user owns is refused: the group adds readers, not access.
      chownSync(path, process.getuid!(), group);
      assert.equal(refusal({ cli: {}, env: { UCW_MYSQL_URL_FILE: path } }).code, 'UCW_ERR_CONFIG_SECRET_FILE');
      // A group the bridge is not in: refused.
      chownSync(path, 4321, 54321);
      assert.equal(refusal({ cli: {}, env: { UCW_MYSQL_URL_FILE: path } }).code, 'UCW_ERR_CONFIG_SECRET_FILE');
    },
  );

  void it('refuses a group- or world-readable file with a hint, never printing its content', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o444]) {
      const path = secretFile(`url-${mode.toString(8)}`, `${URL}\n`, mode);
      const err = refusal({ cli: {}, env: { UCW_MYSQL_URL_FILE: path } });
      assert.equal(err.code, 'UCW_ERR_CONFIG_SECRET_FILE');
      assert.ok(err.message.includes(path), err.message);
      assert.ok(err.message.includes(`0${mode.toString(8)}`), err.message);
      assert.match(err.hint ?? '', /chmod 600/);
      assert.match(err.hint ?? '', /defaultMode: 0400/);
      assert.ok(
        !JSON.stringify({ m: err.message, h: err.hint, d: err.details }).includes('s3cret-pw'),
        'content leaked',
      );
    }
    const signing = secretFile('signing-644', 'whsec_dG9wLXNlY3JldA==\n', 0o644);
    const err = refusal({ cli: { mysqlUrl: URL, signingSecretFile: signing }, env: {} });
    assert.equal(err.code, 'UCW_ERR_CONFIG_SECRET_FILE');
    assert.ok(!err.message.includes('dG9wLXNlY3JldA'));
  });

  void it('refuses a missing or empty file', () => {
    assert.equal(refusal({ cli: { mysqlUrlFile: join(dir, 'missing') }, env: {} }).code, 'UCW_ERR_CONFIG_SECRET_FILE');
    const empty = secretFile('empty', '\n', 0o600);
    const err = refusal({ cli: { mysqlUrl: URL, signingSecretFile: empty }, env: {} });
    assert.equal(err.code, 'UCW_ERR_CONFIG_SECRET_FILE');
    assert.match(err.message, /holds no secret/);
  });

  void it('refuses a value and its file given together, whatever the layers', () => {
    const url = secretFile('url-both', `${URL}\n`, 0o600);
    const signing = secretFile('signing-both', 'whsec_a\n', 0o600);
    for (const sources of [
      { cli: { mysqlUrl: URL }, env: { UCW_MYSQL_URL_FILE: url } },
      { cli: { mysqlUrlFile: url }, env: { UCW_MYSQL_URL: URL } },
      { cli: { mysqlUrl: URL, signingSecret: ['whsec_b'] }, env: { UCW_SIGNING_SECRET_FILE: signing } },
    ] satisfies ConfigSources[]) {
      const err = refusal(sources);
      assert.equal(err.code, 'UCW_ERR_CONFIG_INVALID');
      assert.match(err.message, /both --(mysql-url|signing-secret) \(UCW_\w+\) and --\1-file \(UCW_\w+_FILE\)/);
      assert.ok(!err.message.includes('s3cret-pw'));
    }
  });
});
