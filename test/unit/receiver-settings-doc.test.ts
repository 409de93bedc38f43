// The worked example of docs/receiver-settings.md is loaded by the real loader (schema, references,
// matching), so the page cannot drift from what the bridge accepts.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { urlDefaultsOf, urlSettingsResolver } from '../../src/delivery/url-settings.js';

const DOC = new URL('../../docs/receiver-settings.md', import.meta.url);
const INTERNAL = `whsec_${Buffer.from('internal service key of 32 bytes').toString('base64')}`;

/** The first yaml block after the worked-example marker. */
function workedExample(): Record<string, unknown> {
  const text = readFileSync(DOC, 'utf8');
  const at = text.indexOf('<!-- worked-example');
  assert.ok(at >= 0, 'the page has its worked-example marker');
  const block = /```yaml\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block, 'a yaml block follows the marker');
  return parse(block[1]!) as Record<string, unknown>;
}

void describe('docs/receiver-settings.md worked example', () => {
  void it('loads with the real schema and gives each of the three receivers its settings', () => {
    const example = workedExample();
    // The global secret file of the example is a path on a server: here the secret is given directly.
    delete example.signingSecretFile;
    const dir = mkdtempSync(join(tmpdir(), 'ucw-doc-'));
    try {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify(example));
      const config = loadConfig({
        cli: { mysqlUrl: 'mysql://u:p@127.0.0.1:3306/', signingSecret: ['global-secret-of-enough-bytes'] },
        env: { CRM_BEARER: 'Bearer t0ken', INTERNAL_WEBHOOK_SECRET: INTERNAL },
        configFile: path,
      });
      assert.deepEqual(
        config.receivers.map((r) => r.label),
        ['crm', 'internal', 'catch-all'],
      );
      const settingsFor = urlSettingsResolver(config.receivers, urlDefaultsOf(config));
      const crm = settingsFor('https://crm.example.com/api/webhooks/ucontact');
      assert.deepEqual(
        [crm.receiver, crm.rateLimitPerSecond, crm.headers],
        ['crm', 20, { Authorization: 'Bearer t0ken' }],
      );
      const internal = settingsFor('https://internal.example.net/ucontact/agents');
      assert.deepEqual([internal.receiver, internal.signingSecrets], ['internal', [INTERNAL]]);
      const hooks = settingsFor('https://hooks.example.com/zapier/123');
      assert.deepEqual(
        [hooks.receiver, hooks.bodyFormat, hooks.signingSecrets],
        ['catch-all', 'envelope', ['global-secret-of-enough-bytes']],
      );
      assert.equal(settingsFor('https://elsewhere.example/').receiver, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
