// Which receivers entry a URL gets and the settings that result: an exact url first, else the longest
// urlPrefix, else the global defaults; a receiver without a secret of its own signs with the global one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceiverEntry } from '../../src/config/receivers.js';
import { matchReceiver, settingsOf, urlSettingsResolver, type UrlDefaults } from '../../src/delivery/url-settings.js';

const entry = (index: number, fields: Partial<ReceiverEntry>): ReceiverEntry => ({
  index,
  label: `receivers[${index}]`,
  ...fields,
});
const DEFAULTS: UrlDefaults = {
  signingSecrets: ['global-secret'],
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  concurrency: 32,
  bodyFormat: 'ucontact',
  envelopeUrlPrefix: [],
  maxAttempts: 15,
  maxAgeMs: 86_400_000,
};

void describe('matchReceiver', () => {
  const receivers = [
    entry(0, { urlPrefix: 'https://h.example/' }),
    entry(1, { urlPrefix: 'https://h.example/crm/' }),
    entry(2, { urlPrefix: 'https://h.example/crm/v2/' }),
    entry(3, { url: 'https://h.example/crm/v2/exact' }),
    entry(4, { urlPrefix: 'https://h.example/c' }),
  ];

  void it('takes the longest matching prefix, whatever the order of the entries', () => {
    assert.equal(matchReceiver(receivers, 'https://h.example/crm/v2/other')?.index, 2);
    assert.equal(matchReceiver([...receivers].reverse(), 'https://h.example/crm/v2/other')?.index, 2);
    assert.equal(matchReceiver(receivers, 'https://h.example/crm/x')?.index, 1);
    assert.equal(matchReceiver(receivers, 'https://h.example/c/x')?.index, 4);
    assert.equal(matchReceiver(receivers, 'https://h.example/c')?.index, 4);
    assert.equal(matchReceiver(receivers, 'https://h.example/z')?.index, 0);
    assert.equal(matchReceiver(receivers, 'https://h.example/cx')?.index, 0);
  });

  void it('an exact url beats every prefix; it matches only that URL', () => {
    assert.equal(matchReceiver(receivers, 'https://h.example/crm/v2/exact')?.index, 3);
    assert.equal(matchReceiver(receivers, 'https://h.example/crm/v2/exact?x=1')?.index, 2);
  });

  void it('a prefix matches on the parsed URL: same scheme, host and port, whole path segments', () => {
    const partner = [
      entry(0, { urlPrefix: 'https://hooks.partner.com' }),
      entry(1, { urlPrefix: 'https://p.example/api' }),
    ];
    // The host is compared whole: a look-alike host under the attacker's domain gets nothing.
    assert.equal(matchReceiver(partner, 'https://hooks.partner.com.attacker.net/x'), undefined);
    assert.equal(matchReceiver(partner, 'https://hooks.partner.com@attacker.net/x'), undefined);
    assert.equal(matchReceiver(partner, 'https://hooks.partner.com:8443/x'), undefined);
    assert.equal(matchReceiver(partner, 'http://hooks.partner.com/x'), undefined);
    assert.equal(matchReceiver(partner, 'https://hooks.partner.com/x')?.index, 0);
    assert.equal(matchReceiver(partner, 'https://HOOKS.partner.com:443/x')?.index, 0);
    // A prefix path without a trailing '/' matches itself or whole segments below it only.
    assert.equal(matchReceiver(partner, 'https://p.example/api')?.index, 1);
    assert.equal(matchReceiver(partner, 'https://p.example/api/v1')?.index, 1);
    assert.equal(matchReceiver(partner, 'https://p.example/api?x=1')?.index, 1);
    assert.equal(matchReceiver(partner, 'https://p.example/apix'), undefined);
    assert.equal(matchReceiver(partner, 'not a url'), undefined);
  });

  void it('a URL no entry matches gets none', () => {
    assert.equal(matchReceiver(receivers, 'https://other.example/crm/'), undefined);
    assert.equal(matchReceiver([], 'https://h.example/'), undefined);
  });
});

void describe('settingsOf / urlSettingsResolver', () => {
  void it('an unmatched URL gets the global defaults, unsigned by nothing of its own', () => {
    const s = settingsOf(undefined, 'https://x.example/', DEFAULTS);
    assert.deepEqual(s, {
      receiver: undefined,
      signingSecrets: ['global-secret'],
      headers: {},
      timeoutMs: 10_000,
      connectTimeoutMs: 5_000,
      concurrency: 32,
      bodyFormat: 'ucontact',
      maxAttempts: 15,
      maxAgeMs: 86_400_000,
      rateLimitPerSecond: undefined,
    });
  });

  void it("an entry's fields win; those it leaves out, the global secret included, come from the defaults", () => {
    const e = entry(0, {
      label: 'crm',
      urlPrefix: 'https://crm/',
      headers: { A: 'b' },
      rateLimitPerSecond: 20,
      timeoutMs: 7,
    });
    const s = settingsOf(e, 'https://crm/x', DEFAULTS);
    assert.equal(s.receiver, 'crm');
    assert.deepEqual(s.signingSecrets, ['global-secret']);
    assert.deepEqual([s.timeoutMs, s.connectTimeoutMs, s.rateLimitPerSecond, s.headers], [7, 5_000, 20, { A: 'b' }]);
    const own = settingsOf(entry(1, { url: 'https://i/', signingSecrets: ['own'] }), 'https://i/', DEFAULTS);
    assert.deepEqual(own.signingSecrets, ['own']);
  });

  void it('the deprecated envelope prefix applies unless the entry sets a body format', () => {
    const d = { ...DEFAULTS, envelopeUrlPrefix: ['https://old/'] };
    assert.equal(settingsOf(undefined, 'https://old/x', d).bodyFormat, 'envelope');
    assert.equal(settingsOf(entry(0, { urlPrefix: 'https://old/' }), 'https://old/x', d).bodyFormat, 'envelope');
    const own = entry(0, { urlPrefix: 'https://old/', bodyFormat: 'ucontact' });
    assert.equal(settingsOf(own, 'https://old/x', d).bodyFormat, 'ucontact');
  });

  void it('resolves each URL once and serves it from its cache', () => {
    const resolve = urlSettingsResolver([entry(0, { urlPrefix: 'https://a/', concurrency: 2 })], DEFAULTS);
    const first = resolve('https://a/1');
    assert.equal(resolve('https://a/1'), first);
    assert.equal(first.concurrency, 2);
    assert.equal(resolve('https://b/').concurrency, 32);
  });
});
