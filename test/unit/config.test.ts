import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, loadConfig, OPTIONS, type ConfigSources } from '../../src/config/config.js';
import { envName, flagName } from '../../src/config/option-names.js';
import { BridgeError } from '../../src/errors.js';

const URL = 'mysql://bridge:pw@db.example:3306/';

function configError(sources: ConfigSources, ...parts: string[]): BridgeError {
  let caught: unknown;
  try {
    loadConfig(sources);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BridgeError, `expected a BridgeError, got ${String(caught)}`);
  assert.equal(caught.code, 'UCW_ERR_CONFIG_INVALID');
  for (const p of parts)
    assert.ok(caught.message.includes(p), `message lacks ${JSON.stringify(p)}:\n${caught.message}`);
  return caught;
}

void describe('flagName / envName', () => {
  void it('derive kebab-case flags and UCW_ SNAKE_CASE env names from keys', () => {
    assert.equal(flagName('mysqlUrl'), 'mysql-url');
    assert.equal(envName('mysqlUrl'), 'UCW_MYSQL_URL');
    assert.equal(flagName('deliveredRetentionHours'), 'delivered-retention-hours');
    assert.equal(envName('envelopeUrlPrefix'), 'UCW_ENVELOPE_URL_PREFIX');
    assert.equal(envName('stateDir'), 'UCW_STATE_DIR');
  });

  void it('OPTIONS covers every schema key exactly once', () => {
    const keys = OPTIONS.map((o) => o.key);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual([...keys].sort(), Object.keys(configSchema.shape).sort());
  });
});

void describe('loadConfig', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-config-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  void it('fills every default when only mysqlUrl is given', () => {
    const cfg = loadConfig({ cli: { mysqlUrl: URL }, env: {} });
    assert.deepEqual(
      { ...cfg },
      {
        mysqlUrl: URL,
        stateDir: './ucontact-webhooks-state',
        signingSecret: [],
        timezone: 'UTC',
        httpHost: '127.0.0.1',
        httpPort: 9464,
        logLevel: 'info',
        bodyFormat: 'ucontact',
        envelopeUrlPrefix: [],
        ceSource: '/ucontact-webhooks',
        heartbeatSeconds: 5,
        maxQueuedRows: 4_000,
        outboxSync: 'normal',
        deliveredRetentionHours: 168,
        maxDeadRows: 100_000,
        connectTimeoutMs: 5_000,
        requestTimeoutMs: 10_000,
        maxResponseBytes: 65_536,
        concurrencyPerUrl: 32,
        concurrencyTotal: 128,
        maxAttempts: 15,
        maxAgeMs: 86_400_000,
        retryBaseMs: 1_000,
        retryMaxMs: 600_000,
        maxRetryAfterMs: 3_600_000,
        reconnectMinMs: 500,
        reconnectMaxMs: 30_000,
        shutdownGraceMs: 10_000,
        maxOutboxPending: 1_000_000,
        gonePauseMs: 3_600_000,
        blockPrivateNetworks: false,
        resetToNow: false,
        maxOutboxBytes: 8 * 1024 ** 3,
        receivers: [],
        maxBufferedBytes: 8 * 1024 ** 2,
      },
    );
    assert.equal(cfg.rules, undefined);
  });

  void it('precedence: defaults < JSON config file < UCW_* env < CLI', () => {
    const json = file(
      'config.json',
      JSON.stringify({
        mysqlUrl: 'mysql://file@h/',
        httpPort: 1001,
        httpHost: '0.0.0.0',
        adminToken: 'a-token-of-sixteen-chars',
        logLevel: 'warn',
        timezone: 'America/Montevideo',
        maxAttempts: 3,
      }),
    );
    const cfg = loadConfig({
      configFile: json,
      env: { UCW_HTTP_PORT: '2002', UCW_LOG_LEVEL: 'debug', UCW_MAX_ATTEMPTS: '4' },
      cli: { httpPort: 3003, maxAttempts: undefined },
    });
    assert.equal(cfg.mysqlUrl, 'mysql://file@h/'); // file only
    assert.equal(cfg.httpHost, '0.0.0.0'); // file over default
    assert.equal(cfg.timezone, 'America/Montevideo');
    assert.equal(cfg.logLevel, 'debug'); // env over file
    assert.equal(cfg.maxAttempts, 4); // env; an undefined CLI value does not count
    assert.equal(cfg.httpPort, 3003); // CLI over env over file
    assert.equal(cfg.stateDir, './ucontact-webhooks-state'); // default
  });

  void it('precedence with a YAML config file (also with a comment first)', () => {
    const yaml = file(
      'config.yaml',
      '# bridge settings\nmysqlUrl: mysql://yaml@h/\nstateDir: /var/lib/ucw\nsigningSecret:\n  ' +
        '- whsec_a\n  - whsec_b\nbodyFormat: envelope\nheartbeatSeconds: 7\n',
    );
    const fromFile = loadConfig({ configFile: yaml, env: {}, cli: {} });
    assert.equal(fromFile.mysqlUrl, 'mysql://yaml@h/');
    assert.equal(fromFile.stateDir, '/var/lib/ucw');
    assert.deepEqual(fromFile.signingSecret, ['whsec_a', 'whsec_b']);
    assert.equal(fromFile.bodyFormat, 'envelope');
    assert.equal(fromFile.heartbeatSeconds, 7);

    const cfg = loadConfig({
      configFile: yaml,
      env: { UCW_STATE_DIR: '/env/state', UCW_SIGNING_SECRET: 'whsec_env', UCW_HEARTBEAT_SECONDS: '9' },
      cli: { stateDir: '/cli/state' },
    });
    assert.equal(cfg.stateDir, '/cli/state');
    assert.deepEqual(cfg.signingSecret, ['whsec_env']);
    assert.equal(cfg.heartbeatSeconds, 9);
    assert.equal(cfg.bodyFormat, 'envelope');
  });

  void it('parses numbers from env (blank = not set)', () => {
    const cfg = loadConfig({
      cli: {},
      env: {
        UCW_MYSQL_URL: URL,
        UCW_SERVER_ID: '4294967295',
        UCW_HTTP_PORT: ' 0 ',
        UCW_DELIVERED_RETENTION_HOURS: '0.5',
        UCW_MAX_AGE_MS: '60000',
        UCW_SHUTDOWN_GRACE_MS: '',
        UCW_CONNECT_TIMEOUT_MS: '   ',
      },
    });
    assert.equal(cfg.serverId, 4_294_967_295);
    assert.equal(cfg.httpPort, 0);
    assert.equal(cfg.deliveredRetentionHours, 0.5);
    assert.equal(cfg.maxAgeMs, 60_000);
    assert.equal(cfg.shutdownGraceMs, 10_000);
    assert.equal(cfg.connectTimeoutMs, 5_000);
  });

  void it('splits array options from env on commas, trimming and dropping empties', () => {
    const cfg = loadConfig({
      cli: {},
      env: {
        UCW_MYSQL_URL: URL,
        UCW_SIGNING_SECRET: 'whsec_new, whsec_old,,',
        UCW_ENVELOPE_URL_PREFIX: 'https://a.example/',
      },
    });
    assert.deepEqual(cfg.signingSecret, ['whsec_new', 'whsec_old']);
    assert.deepEqual(cfg.envelopeUrlPrefix, ['https://a.example/']);
  });

  void it(
    'takes array options from the CLI as repeated values ' + 'or a single value; an empty CLI list does not override',
    () => {
      const env = { UCW_MYSQL_URL: URL, UCW_SIGNING_SECRET: 'whsec_env' };
      assert.deepEqual(loadConfig({ cli: { signingSecret: ['s1', 's2'] }, env }).signingSecret, ['s1', 's2']);
      assert.deepEqual(loadConfig({ cli: { signingSecret: 's1' }, env }).signingSecret, ['s1']);
      assert.deepEqual(
        loadConfig({ cli: { envelopeUrlPrefix: ['https://x/', 'https://y/'] }, env }).envelopeUrlPrefix,
        ['https://x/', 'https://y/'],
      );
      assert.deepEqual(loadConfig({ cli: { signingSecret: [] }, env }).signingSecret, ['whsec_env']);
    },
  );

  void it('rejects invalid values naming the flag and the env var', () => {
    const base = { UCW_MYSQL_URL: URL };
    configError({ cli: {}, env: { ...base, UCW_HTTP_PORT: 'eighty' } }, '--http-port (UCW_HTTP_PORT)');
    configError({ cli: { httpPort: 70_000 }, env: base }, '--http-port (UCW_HTTP_PORT)');
    configError({ cli: {}, env: { ...base, UCW_SERVER_ID: '0' } }, '--server-id (UCW_SERVER_ID)');
    configError({ cli: {}, env: { ...base, UCW_MAX_ATTEMPTS: '2.5' } }, '--max-attempts (UCW_MAX_ATTEMPTS)');
    configError({ cli: {}, env: { ...base, UCW_LOG_LEVEL: 'loud' } }, '--log-level (UCW_LOG_LEVEL)');
    configError({ cli: { timezone: 'Mars/Base' }, env: base }, '--timezone (UCW_TIMEZONE)', 'IANA time zone');
    configError({ cli: { bodyFormat: 'xml' }, env: base }, '--body-format (UCW_BODY_FORMAT)');
    configError({ cli: { outboxSync: 'off' }, env: base }, '--outbox-sync (UCW_OUTBOX_SYNC)');
    configError({ cli: { maxQueuedRows: 10 }, env: base }, '--max-queued-rows (UCW_MAX_QUEUED_ROWS)');
    configError({ cli: { heartbeatSeconds: 0 }, env: base }, '--heartbeat-seconds (UCW_HEARTBEAT_SECONDS)');
  });

  void it('caps delays and timeouts: a Node timer fires a longer one after 1 ms', () => {
    const base = { UCW_MYSQL_URL: URL };
    const DAY_MS = 24 * 3_600_000;
    for (const key of ['gonePauseMs', 'maxRetryAfterMs', 'retryMaxMs', 'retryBaseMs', 'maxAgeMs'] as const) {
      assert.equal(loadConfig({ cli: { [key]: 30 * DAY_MS }, env: base })[key], 30 * DAY_MS);
      configError(
        { cli: { [key]: 30 * DAY_MS + 1 }, env: base },
        `--${flagName(key)} (${envName(key)})`,
        'must be at most 2592000000 ms (30 days)',
      );
    }
    for (const key of [
      'connectTimeoutMs',
      'requestTimeoutMs',
      'reconnectMinMs',
      'reconnectMaxMs',
      'shutdownGraceMs',
    ] as const) {
      assert.equal(loadConfig({ cli: { [key]: 2 ** 31 - 1 }, env: base })[key], 2 ** 31 - 1);
      configError(
        { cli: { [key]: 2 ** 31 }, env: base },
        `--${flagName(key)} (${envName(key)})`,
        'must be at most 2147483647 ms',
      );
    }
  });

  void it('lists every invalid option in one error', () => {
    const err = configError(
      { cli: { httpPort: -1 }, env: { UCW_MYSQL_URL: URL, UCW_LOG_LEVEL: 'loud' } },
      '--http-port (UCW_HTTP_PORT)',
      '--log-level (UCW_LOG_LEVEL)',
    );
    assert.equal((err.details?.problems as string[]).length, 2);
    assert.equal(typeof err.hint, 'string');
  });

  void it('rejects a missing or empty mysqlUrl', () => {
    configError({ cli: {}, env: {} }, '--mysql-url (UCW_MYSQL_URL)');
    configError({ cli: { mysqlUrl: '' }, env: {} }, '--mysql-url (UCW_MYSQL_URL)');
    // An empty env value counts as unset, so it does not satisfy the requirement either.
    configError({ cli: {}, env: { UCW_MYSQL_URL: '' } }, '--mysql-url (UCW_MYSQL_URL)');
  });

  void it('does not echo the mysqlUrl password in errors', () => {
    const err = configError({ cli: { httpPort: 'x' }, env: { UCW_MYSQL_URL: 'mysql://u:hunter2@h/' } }, '--http-port');
    assert.doesNotMatch(err.message, /hunter2/);
  });

  void it('rejects unknown keys, a missing file, a non-object file and invalid file syntax', () => {
    configError(
      { configFile: file('unknown.json', JSON.stringify({ mysqlUrl: URL, httpPrt: 1 })), cli: {}, env: {} },
      'httpPrt',
    );
    configError({ configFile: join(dir, 'missing.yaml'), cli: {}, env: {} }, 'missing.yaml');
    configError({ configFile: file('list.yaml', '- a\n- b\n'), cli: {}, env: {} }, 'must hold an object');
    configError({ configFile: file('empty.yaml', ''), cli: {}, env: {} }, 'must hold an object');
    configError({ configFile: file('broken.json', '{ "mysqlUrl": '), cli: {}, env: {} }, 'broken.json');
    configError(
      { configFile: file('types.yaml', `mysqlUrl: ${URL}\nhttpPort: "9000"\n`), cli: {}, env: {} },
      '--http-port (UCW_HTTP_PORT)',
    );
  });

  void it('ignores env vars outside the UCW_ options', () => {
    const cfg = loadConfig({
      cli: {},
      env: { UCW_MYSQL_URL: URL, HTTP_PORT: '1', UCW_NOT_AN_OPTION: 'x', ucw_http_port: '2' },
    });
    assert.equal(cfg.httpPort, 9464);
  });

  void it('returns a frozen object', () => {
    const cfg = loadConfig({ cli: { mysqlUrl: URL }, env: {} });
    assert.ok(Object.isFrozen(cfg));
    assert.throws(() => {
      (cfg as { httpPort: number }).httpPort = 1;
    }, TypeError);
    assert.equal(cfg.httpPort, 9464);
  });
});

void describe('admin token', () => {
  void it('is required when the health port listens beyond loopback, and the message names the fix', () => {
    configError({ cli: { mysqlUrl: URL, httpHost: '0.0.0.0' }, env: {} }, '--http-host 0.0.0.0', '--admin-token');
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) {
      assert.equal(loadConfig({ cli: { mysqlUrl: URL, httpHost: host }, env: {} }).httpHost, host);
    }
    const cfg = loadConfig({ cli: { mysqlUrl: URL, httpHost: '0.0.0.0' }, env: { UCW_ADMIN_TOKEN: 'x'.repeat(16) } });
    assert.equal(cfg.adminToken, 'x'.repeat(16));
  });

  void it('is refused when shorter than 16 characters', () => {
    configError({ cli: { mysqlUrl: URL, adminToken: 'short' }, env: {} }, '--admin-token', 'at least 16');
  });
});
