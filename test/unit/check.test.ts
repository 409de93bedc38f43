// The pure parts of `ucontact-webhooks check`: grant classification, retention math, the registry
// lines, the binlog setting checks shared with preflight, and the text/JSON rendering with its exit code.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult } from '../../src/check-result.js';
import { CODES } from '../../src/error-codes.js';
import { formatDuration, retentionCheck, retentionSeconds } from '../../src/ops/check-binlog.js';
import { formatBytes } from '../../src/ops/status-format.js';
import { grantChecks, parseGrant } from '../../src/ops/check-grants.js';
import { registryChecks } from '../../src/ops/check-registry.js';
import { exitCodeOf, renderJson, renderText } from '../../src/ops/check-render.js';
import { defaultRules } from '../../src/rules/load.js';
import { safeUrlOrText } from '../../src/safe-url.js';
import { readOnlyCheck, settingChecks } from '../../src/source/preflight.js';
import { MARIADB_10_11 } from '../helpers/server-settings.js';

const TABLES = [
  'ccdata.webhooks',
  'ccdata.users',
  'ccdata.dispositions',
  'ccrepo.queue_log_repo',
  'ccrepo.interactions',
];

// Recorded on the fixture: SHOW GRANTS of the README's least-privileged user.
const BRIDGE_GRANTS = [
  'GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `ucw_bridge`@`%` IDENTIFIED BY PASSWORD ' +
    "'*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'",
  'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
  'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
];

const byName = (results: readonly CheckResult[]): Record<string, CheckResult> =>
  Object.fromEntries(results.map((r) => [r.name, r]));

void describe('check: grants', () => {
  void it('parses privileges and scope, column lists and quoted names included', () => {
    assert.deepEqual(parseGrant('GRANT SELECT (`a`, `b`), UPDATE (`c`) ON `cc``x`.`t` TO `u`@`%`'), {
      privileges: new Set(['SELECT', 'UPDATE']),
      db: 'cc`x',
      table: 't',
    });
    assert.equal(parseGrant('GRANT `ucw_role` TO `u`@`%`'), undefined);
    assert.equal(parseGrant('GRANT PROXY ON ``@`%` TO `root`@`localhost`'), undefined);
  });

  void it("the README's user lacks nothing (MariaDB), and MySQL's REPLICATION CLIENT passes there", () => {
    const all = grantChecks(BRIDGE_GRANTS, { isMariaDb: true, tables: TABLES });
    assert.deepEqual(
      all.map((r) => [r.name, r.status]),
      [
        ['grant REPLICATION SLAVE', 'OK'],
        ['grant BINLOG MONITOR', 'OK'],
        ['grant SELECT', 'OK'],
      ],
    );
    const mysql = grantChecks(
      [
        'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `ucw_bridge`@`%`',
        'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
        'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
      ],
      { isMariaDb: false, tables: TABLES },
    );
    assert.ok(
      mysql.every((r) => r.status === 'OK'),
      JSON.stringify(mysql),
    );
    assert.equal(mysql[1]!.name, 'grant REPLICATION CLIENT');
  });

  void it('names every missing grant with UCW_ERR_SOURCE_GRANTS and the GRANT that fixes it', () => {
    const r = byName(grantChecks(['GRANT USAGE ON *.* TO `nobody`@`%`'], { isMariaDb: true, tables: TABLES }));
    for (const name of ['grant REPLICATION SLAVE', 'grant BINLOG MONITOR', 'grant SELECT']) {
      assert.equal(r[name]!.status, 'FAIL', name);
      assert.equal(r[name]!.code, 'UCW_ERR_SOURCE_GRANTS');
    }
    assert.match(r['grant REPLICATION SLAVE']!.hint!, /GRANT REPLICATION SLAVE ON \*\.\*/);
    assert.match(r['grant BINLOG MONITOR']!.hint!, /GRANT BINLOG MONITOR ON \*\.\*/);
    assert.equal(r['grant SELECT']!.message, `the user lacks SELECT on ${TABLES.join(', ')}`);
    assert.match(r['grant SELECT']!.hint!, /^GRANT SELECT ON ccdata\.\*; GRANT SELECT ON ccrepo\.\* TO/);
  });

  void it('counts ALL PRIVILEGES, global SELECT, table grants and database wildcards; not a neighbour table', () => {
    const needs = { isMariaDb: true, tables: ['ccdata.webhooks', 'ccrepo.queue_log_repo', 'cc_x.t'] };
    assert.ok(
      grantChecks(['GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION'], needs).every(
        (r) => r.status === 'OK',
      ),
    );
    const mixed = byName(
      grantChecks(
        [
          'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`',
          'GRANT SELECT ON `ccdata`.`webhooks` TO `u`@`%`',
          'GRANT SELECT ON `ccrepo`.`queue_log` TO `u`@`%`',
          'GRANT SELECT ON `cc\\_%`.* TO `u`@`%`',
        ],
        needs,
      ),
    );
    assert.equal(mixed['grant BINLOG MONITOR']!.status, 'OK', 'REPLICATION CLIENT is its alias on MariaDB');
    assert.equal(mixed['grant SELECT']!.message, 'the user lacks SELECT on ccrepo.queue_log_repo');
    // `cc\_%` matches cc_x literally; an unescaped `_` is any one character.
    assert.equal(
      grantChecks(['GRANT SELECT ON `c_\\_x`.* TO `u`@`%`'], { isMariaDb: true, tables: ['cc_x.t'] })[2]!.status,
      'OK',
    );
    assert.equal(
      grantChecks(['GRANT SELECT ON `cc\\_x`.* TO `u`@`%`'], { isMariaDb: true, tables: ['ccax.t'] })[2]!.status,
      'FAIL',
    );
  });

  void it('write privileges are a WARN (UCW_WARN_SOURCE_WRITABLE) listing them; read-only grants are OK', () => {
    assert.equal(readOnlyCheck(BRIDGE_GRANTS).status, 'OK');
    const w = readOnlyCheck(['GRANT SELECT, INSERT ON `ccrepo`.* TO `x`@`%`']);
    assert.equal(w.status, 'WARN');
    assert.equal(w.code, 'UCW_WARN_SOURCE_WRITABLE');
    assert.match(w.message, /INSERT ON `ccrepo`\.\*/);
  });
});

void describe('check: binlog retention', () => {
  const vars = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

  void it('binlog_expire_logs_seconds wins when set, else expire_logs_days; 0 is never', () => {
    assert.equal(retentionSeconds(vars({ binlog_expire_logs_seconds: '2592000', expire_logs_days: '0' })), 2_592_000);
    assert.equal(retentionSeconds(vars({ binlog_expire_logs_seconds: '0', expire_logs_days: '3' })), 259_200);
    assert.equal(retentionSeconds(vars({ expire_logs_days: '0.5' })), 43_200);
    assert.equal(retentionSeconds(vars({ binlog_expire_logs_seconds: '0', expire_logs_days: '0' })), 0);
    assert.equal(retentionSeconds(vars({})), 0);
  });

  void it('under a day is a WARN with UCW_WARN_SOURCE_RETENTION_SHORT; a day or more, or never, is OK', () => {
    const short = retentionCheck(vars({ binlog_expire_logs_seconds: '3600' }));
    assert.equal(short.status, 'WARN');
    assert.equal(short.code, 'UCW_WARN_SOURCE_RETENTION_SHORT');
    assert.match(short.message, /purged after 1 hour/);
    assert.match(short.hint!, /binlog_expire_logs_seconds/);
    const day = retentionCheck(vars({ binlog_expire_logs_seconds: '86400' }));
    assert.deepEqual([day.status, day.code], ['OK', undefined]);
    assert.match(day.message, /purged after 1 day/);
    assert.match(retentionCheck(vars({})).message, /never purged by age/);
    assert.match(
      retentionCheck(vars({ expire_logs_days: '30', max_binlog_total_size: String(2 * 1024 ** 3) })).message,
      /after 30 days, and when they pass 2\.0 GiB in all/,
    );
  });

  void it('formats durations and sizes', () => {
    assert.deepEqual([45, 90, 120, 7200, 86_400, 90_000, 604_800].map(formatDuration), [
      '45 seconds',
      '90 seconds',
      '2 minutes',
      '2 hours',
      '1 day',
      '25 hours',
      '7 days',
    ]);
    assert.deepEqual([512, 1536, 12.5 * 1024 ** 2].map(formatBytes), ['512 B', '1.5 KiB', '12.5 MiB']);
  });
});

void describe('check: binlog settings (the checks preflight throws on)', () => {
  void it('a good server is all OK; each wrong setting is its FAIL code, metadata only a WARN', () => {
    assert.ok(settingChecks(MARIADB_10_11, 'db:3306').every((r) => r.status === 'OK'));
    const bad = byName(
      settingChecks(
        {
          ...MARIADB_10_11,
          logBin: false,
          binlogFormat: 'STATEMENT',
          binlogRowImage: 'MINIMAL',
          binlogRowMetadata: 'NO_LOG',
          binlogTransactionCompression: 'ON',
          binlogRowValueOptions: 'PARTIAL_JSON',
        },
        'db:3306',
      ),
    );
    assert.deepEqual(
      Object.values(bad).map((r) => [r.name, r.status, r.code]),
      [
        ['log_bin', 'FAIL', 'UCW_ERR_SOURCE_BINLOG_DISABLED'],
        ['binlog_format', 'FAIL', 'UCW_ERR_SOURCE_BINLOG_FORMAT'],
        ['binlog_row_image', 'FAIL', 'UCW_ERR_SOURCE_ROW_IMAGE'],
        ['binlog_transaction_compression', 'FAIL', 'UCW_ERR_SOURCE_BINLOG_COMPRESSION'],
        ['binlog_row_value_options', 'FAIL', 'UCW_ERR_SOURCE_PARTIAL_JSON'],
        ['binlog_row_metadata', 'WARN', 'UCW_WARN_SOURCE_ROW_METADATA'],
      ],
    );
    assert.equal(bad.binlog_format!.message, 'binlog_format is STATEMENT on db:3306; the bridge needs ROW');
    assert.match(bad.binlog_format!.hint!, /SET GLOBAL binlog_format = ROW/);
  });
});

void describe('check: registrations', () => {
  const def = defaultRules().registry;
  const row = (id: number, event: string, url: string | null) => ({ id, event, url });

  void it('a served row is OK; a bad URL, unknown event, URL over 256 characters or duplicate is a WARN', () => {
    const long = `https://example.com/${'a'.repeat(250)}`;
    const { checks, urls } = registryChecks(def, [
      row(1, 'AgentLog', 'https://hooks.example/a?token=SECRET'),
      row(2, 'AgentBreak', 'not a url'),
      row(3, 'AgentNap', 'https://hooks.example/b'),
      row(4, 'AgentLog', long),
      row(5, 'AgentLog', 'https://hooks.example/a?token=SECRET'),
      row(6, 'FinishInteraction', ''),
      row(10, 'AssignInteraction', 'ftp://hooks.example/c'),
    ]);
    assert.deepEqual(
      checks.map((c) => [c.name, c.status, c.code]),
      [
        ['webhook ccdata.webhooks id=1', 'OK', undefined],
        ['webhook ccdata.webhooks id=2', 'WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['webhook ccdata.webhooks id=3', 'WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['webhook ccdata.webhooks id=4', 'WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['webhook ccdata.webhooks id=5', 'WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['webhook ccdata.webhooks id=10', 'WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
      ],
    );
    const text = checks.map((c) => c.message);
    assert.equal(text[0], 'AgentLog -> https://hooks.example/a?[redacted]');
    assert.equal(text[1], 'AgentBreak -> "not a url": url is not a valid absolute URL; skipped');
    assert.match(text[2]!, /event "AgentNap" is not one of the six/);
    assert.match(text[3]!, /url is 270 characters long \(limit 256\)/);
    assert.match(text[4]!, /duplicate of row 1/);
    assert.match(text[5]!, /scheme ftp: is not http or https/);
    assert.ok(!JSON.stringify(checks).includes('SECRET'), 'no query string is shown');
    assert.equal(checks[1]!.hint, CODES.UCW_ERR_REGISTRY_BAD_ROW.hint);
    assert.deepEqual(urls, ['https://hooks.example/a?token=SECRET']);
  });

  void it('text that is not a URL is shown so its typo can be fixed, without credentials or query', () => {
    assert.equal(safeUrlOrText('htps//typo.example/hook'), '"htps//typo.example/hook"');
    assert.equal(safeUrlOrText('htps//user:pw@typo.example/h?token=SECRET'), '"[redacted]@typo.example/h"?[redacted]');
    assert.equal(safeUrlOrText('https://u:p@ok.example/h?t=1'), 'https://ok.example/h?[redacted]');
  });

  void it('no usable URL at all is a WARN (UCW_WARN_REGISTRY_EMPTY)', () => {
    const { checks, urls } = registryChecks(def, [row(1, 'AgentLog', ''), row(2, 'AgentBreak', null)]);
    assert.deepEqual(
      checks.map((c) => [c.name, c.status, c.code]),
      [['webhooks', 'WARN', 'UCW_WARN_REGISTRY_EMPTY']],
    );
    assert.deepEqual(urls, []);
  });
});

void describe('check: rendering and exit code', () => {
  const results: CheckResult[] = [
    { name: 'connection', status: 'OK', message: 'connected', details: { x: 1 } },
    {
      name: 'binlog_format',
      status: 'FAIL',
      code: 'UCW_ERR_SOURCE_BINLOG_FORMAT',
      message: 'binlog_format is MIXED',
      hint: 'SET GLOBAL binlog_format = ROW',
    },
    { name: 'gtid', status: 'WARN', code: 'UCW_WARN_SOURCE_ROW_METADATA', message: 'm' },
  ];

  void it('exit 1 with any FAIL, 0 with only OK and WARN', () => {
    assert.equal(exitCodeOf(results), 1);
    assert.equal(exitCodeOf(results.filter((r) => r.status !== 'FAIL')), 0);
    assert.equal(exitCodeOf([]), 0);
  });

  void it('JSON is exactly {checks: [{name, status, code?, message, hint?}]}', () => {
    assert.deepEqual(JSON.parse(renderJson(results)), {
      checks: [
        { name: 'connection', status: 'OK', message: 'connected' },
        {
          name: 'binlog_format',
          status: 'FAIL',
          code: 'UCW_ERR_SOURCE_BINLOG_FORMAT',
          message: 'binlog_format is MIXED',
          hint: 'SET GLOBAL binlog_format = ROW',
        },
        { name: 'gtid', status: 'WARN', code: 'UCW_WARN_SOURCE_ROW_METADATA', message: 'm' },
      ],
    });
  });

  void it('text: one aligned line per check with its code, the hint after ->, and a verdict', () => {
    assert.equal(
      renderText(results),
      [
        'OK    connection     connected',
        'FAIL  binlog_format  binlog_format is MIXED [UCW_ERR_SOURCE_BINLOG_FORMAT]',
        '                     -> SET GLOBAL binlog_format = ROW',
        'WARN  gtid           m [UCW_WARN_SOURCE_ROW_METADATA]',
        '1 OK, 1 WARN, 1 FAIL: the bridge cannot run',
        '',
      ].join('\n'),
    );
    assert.match(renderText(results.slice(0, 1)), /1 OK, 0 WARN, 0 FAIL: the bridge can run\n$/);
  });
});
