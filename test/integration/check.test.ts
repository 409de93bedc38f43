// `ucontact-webhooks check` against the real fixture server: a well set-up server and the README's
// user pass (exit 0), wrong binlog settings and missing grants fail with their codes (exit 1), an
// unreachable server or a wrong password is one FAIL line, each bad registration is named, and
// --probe tells a receiver that answers from a closed port. One private server serves every test.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_RULES } from '../../src/rules/default-rules.js';
import { runCli, type CliResult } from '../helpers/bridge-process.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { BINLOG_STATUS_SQL, setUrl } from '../helpers/source-fixture.js';

interface Check {
  name: string;
  status: 'OK' | 'WARN' | 'FAIL';
  code?: string;
  message: string;
  hint?: string;
}

/** The check's JSON output, its shape asserted exactly: {checks: [{name, status, code?, message, hint?}]}. */
function parseChecks(r: CliResult): Check[] {
  const doc = JSON.parse(r.stdout) as { checks: Check[] };
  assert.deepEqual(Object.keys(doc), ['checks']);
  for (const c of doc.checks) {
    const keys = Object.keys(c);
    assert.ok(
      keys.every((k) => ['name', 'status', 'code', 'message', 'hint'].includes(k)),
      `unexpected key in ${JSON.stringify(c)}`,
    );
    assert.equal(typeof c.name, 'string');
    assert.equal(typeof c.message, 'string');
    assert.ok(['OK', 'WARN', 'FAIL'].includes(c.status), c.status);
    // A WARN or FAIL always says which code it is and what to do.
    if (c.status !== 'OK') assert.ok(c.code?.startsWith('UCW_') && c.hint, JSON.stringify(c));
  }
  return doc.checks;
}

const find = (checks: Check[], name: string): Check => {
  const c = checks.find((x) => x.name === name);
  assert.ok(c, `no check named ${name} in ${JSON.stringify(checks.map((x) => x.name))}`);
  return c;
};

/** A 127.0.0.1 port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** No UCW_* variable of the test's own environment leaks into the command. */
const CLEAN_ENV = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => k.startsWith('UCW_'))
    .map((k) => [k, '']),
);

const check = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['check', ...args], { ...CLEAN_ENV, ...env });

void describe('check', () => {
  const env = useIntegrationEnv();

  const binlogEnd = async (): Promise<string> => {
    const [rows] = await env.src.admin.query(BINLOG_STATUS_SQL);
    const r = (rows as Array<Record<string, unknown>>)[0]!;
    return `${String(r.File)}:${String(r.Position)}`;
  };

  void test('a well set-up server and the least-privileged user: exit 0, every line OK or WARN', async () => {
    await env.src.reset();
    await env.src.tx(setUrl('AgentLog', env.rx.urlFor('/hooks/agentlog')));
    const before = await binlogEnd();
    // The URL from the environment, as `run` takes it.
    const json = await check(['--json'], { UCW_MYSQL_URL: env.src.db.bridgeUrl });
    assert.equal(json.code, 0, json.stdout + json.stderr);
    assert.equal(json.stderr, '');
    const checks = parseChecks(json);
    assert.ok(
      checks.every((c) => c.status !== 'FAIL'),
      JSON.stringify(checks.filter((c) => c.status === 'FAIL')),
    );
    for (const name of [
      'rules',
      'connection',
      'server',
      'log_bin',
      'binlog_format',
      'binlog_row_image',
      'binlog_row_metadata',
      'binlog_transaction_compression',
      'binlog_row_value_options',
      'binlog retention',
      'binlog volume',
      'gtid',
      'grant REPLICATION SLAVE',
      'grant BINLOG MONITOR',
      'grant SELECT',
      'read-only user',
      'schema',
    ]) {
      assert.equal(find(checks, name).status, 'OK', JSON.stringify(find(checks, name)));
    }
    assert.match(find(checks, 'server').message, /^MariaDB |^MySQL /);
    assert.match(find(checks, 'binlog volume').message, /^\d+ binlog files?, /);
    assert.deepEqual(
      checks.filter((c) => c.name.startsWith('webhook')).map((c) => [c.status, c.message]),
      [['OK', `AgentLog -> ${env.rx.urlFor('/hooks/agentlog')}`]],
    );

    const text = await check(['--mysql-url', env.src.db.bridgeUrl]);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines.at(-1)!, /^\d+ OK, 0 WARN, 0 FAIL: the bridge can run$/);
    assert.ok(
      lines.slice(0, -1).every((l) => /^(OK|WARN) {2}/.test(l) || /^ +-> /.test(l)),
      text.stdout,
    );
    // Only SELECT and SHOW: nothing reached the binlog.
    assert.equal(await binlogEnd(), before, 'check wrote to the source');
  });

  void test(
    'wrong binlog settings: FAIL lines with their codes and the SET GLOBAL, exit 1',
    { skip: privateServerOnly('sets binlog settings globally') },
    async () => {
      await env.src.db.exec(
        "SET GLOBAL binlog_format = 'STATEMENT'; SET GLOBAL binlog_row_image = 'MINIMAL'; " +
          "SET GLOBAL binlog_row_metadata = 'MINIMAL'; SET GLOBAL binlog_expire_logs_seconds = 3600;",
      );
      try {
        const r = await check(['--json', '--mysql-url', env.src.db.bridgeUrl]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const checks = parseChecks(r);
        const pick = (name: string): [string, string | undefined] => [
          find(checks, name).status,
          find(checks, name).code,
        ];
        assert.deepEqual(pick('binlog_format'), ['FAIL', 'UCW_ERR_SOURCE_BINLOG_FORMAT']);
        assert.deepEqual(pick('binlog_row_image'), ['FAIL', 'UCW_ERR_SOURCE_ROW_IMAGE']);
        assert.deepEqual(pick('binlog_row_metadata'), ['WARN', 'UCW_WARN_SOURCE_ROW_METADATA']);
        assert.deepEqual(pick('binlog retention'), ['WARN', 'UCW_WARN_SOURCE_RETENTION_SHORT']);
        assert.match(find(checks, 'binlog_format').message, /binlog_format is STATEMENT .*needs ROW/);
        assert.match(find(checks, 'binlog_format').hint!, /SET GLOBAL binlog_format = ROW/);
        assert.match(find(checks, 'binlog_row_image').hint!, /SET GLOBAL binlog_row_image = FULL/);

        const text = await check(['--mysql-url', env.src.db.bridgeUrl]);
        assert.equal(text.code, 1);
        assert.match(
          text.stdout,
          /^FAIL {2}binlog_format +binlog_format is STATEMENT .*\[UCW_ERR_SOURCE_BINLOG_FORMAT\]$/m,
        );
        assert.match(text.stdout, /^ +-> SET GLOBAL binlog_row_image = FULL/m);
        assert.match(text.stdout, /2 FAIL: the bridge cannot run\n$/);
      } finally {
        await env.src.db.exec(
          "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'; " +
            "SET GLOBAL binlog_row_metadata = 'FULL'; SET GLOBAL binlog_expire_logs_seconds = 0;",
        );
      }
    },
  );

  void test(
    'a user without grants: FAIL lines naming each missing grant; a writer is warned about',
    { skip: privateServerOnly("creates users in MariaDB's grant syntax") },
    async () => {
      await env.src.db.exec(
        "CREATE USER IF NOT EXISTS 'ucw_nogrants'@'%' IDENTIFIED VIA mysql_native_password " +
          "USING PASSWORD('pw-nogrants');",
      );
      const url = new URL(env.src.db.bridgeUrl);
      url.username = 'ucw_nogrants';
      url.password = 'pw-nogrants';
      const r = await check(['--json', '--mysql-url', url.toString()]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const checks = parseChecks(r);
      for (const [name, missing] of [
        ['grant REPLICATION SLAVE', 'REPLICATION SLAVE'],
        ['grant BINLOG MONITOR', 'BINLOG MONITOR'],
        ['grant SELECT', 'SELECT on ccrepo.queue_log_repo, ccrepo.interactions, ccdata.users'],
      ] as const) {
        const c = find(checks, name);
        assert.equal(c.status, 'FAIL', JSON.stringify(c));
        assert.equal(c.code, 'UCW_ERR_SOURCE_GRANTS');
        assert.ok(c.message.includes(`lacks ${missing}`), c.message);
      }
      assert.equal(find(checks, 'binlog volume').code, 'UCW_ERR_SOURCE_GRANTS');
      // Tables it cannot see are named by the schema check too.
      assert.ok(checks.some((c) => c.name === 'schema' && c.code === 'UCW_ERR_RULES_SCHEMA'));
      assert.equal(find(checks, 'read-only user').status, 'OK');

      // The README's grants held through a default role count; those of a role never set do not.
      await env.src.db.exec(
        `CREATE ROLE IF NOT EXISTS ucw_reader; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO ucw_reader;
        GRANT SELECT ON ccdata.* TO ucw_reader; GRANT SELECT ON ccrepo.* TO ucw_reader;
        CREATE USER IF NOT EXISTS 'ucw_viarole'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('pw-r');
        GRANT ucw_reader TO 'ucw_viarole'@'%';`,
      );
      url.username = 'ucw_viarole';
      url.password = 'pw-r';
      const notSet = parseChecks(await check(['--json', '--mysql-url', url.toString()]));
      assert.equal(find(notSet, 'grant REPLICATION SLAVE').status, 'FAIL');
      await env.src.db.exec("SET DEFAULT ROLE ucw_reader FOR 'ucw_viarole'@'%'");
      const viaRole = await check(['--json', '--mysql-url', url.toString()]);
      assert.equal(viaRole.code, 0, viaRole.stdout);
      for (const name of ['grant REPLICATION SLAVE', 'grant BINLOG MONITOR', 'grant SELECT', 'schema']) {
        assert.equal(find(parseChecks(viaRole), name).status, 'OK', name);
      }

      const admin = parseChecks(await check(['--json', '--mysql-url', env.src.db.adminUrl]));
      const writable = find(admin, 'read-only user');
      assert.deepEqual([writable.status, writable.code], ['WARN', 'UCW_WARN_SOURCE_WRITABLE']);
      assert.match(writable.message, /ALL PRIVILEGES ON \*\.\*/);
    },
  );

  void test('an unreachable server or a wrong password is one FAIL line with its code, never a stack', async () => {
    const wrong = new URL(env.src.db.bridgeUrl);
    wrong.password = 'definitely-wrong-pw';
    const auth = await check(['--mysql-url', wrong.toString()]);
    assert.equal(auth.code, 1);
    assert.equal(auth.stderr, '');
    assert.match(
      auth.stdout,
      /^FAIL {2}connection +the source server .* refused the user or password \[UCW_ERR_SOURCE_AUTH\]$/m,
    );
    assert.ok(!auth.stdout.includes('definitely-wrong-pw'), 'the password is printed');
    assert.ok(!/\n\s+at /.test(auth.stdout), 'a stack trace is printed');

    const port = await closedPort();
    const down = parseChecks(await check(['--json', '--mysql-url', `mysql://u:p@127.0.0.1:${port}/`]));
    const conn = find(down, 'connection');
    assert.deepEqual([conn.status, conn.code], ['FAIL', 'UCW_ERR_SOURCE_CONNECT']);
    assert.match(conn.message, /ECONNREFUSED/);
  });

  void test('a rules file naming a column the table lacks: a schema FAIL with the rules path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ucw-check-rules-'));
    try {
      const file = join(dir, 'rules.json');
      writeFileSync(
        file,
        JSON.stringify({ ...DEFAULT_RULES, registry: { ...DEFAULT_RULES.registry, urlColumn: 'urll' } }),
      );
      const r = await check(['--json', '--mysql-url', env.src.db.bridgeUrl, '--rules', file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const schema = parseChecks(r).filter((c) => c.name === 'schema');
      assert.deepEqual(
        schema.map((c) => [c.status, c.code, c.message]),
        [['FAIL', 'UCW_ERR_RULES_SCHEMA', 'registry.urlColumn: column ccdata.webhooks.urll does not exist']],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('each bad registration is its own line: bad URL, unknown event, over 256 characters', async () => {
    await env.src.reset();
    // uContact's url column is VARCHAR(256); a wider one (an integrator's table) can hold a longer URL.
    await env.src.db.exec('ALTER TABLE ccdata.webhooks MODIFY url VARCHAR(1000) NULL');
    const long = `http://127.0.0.1:9/${'a'.repeat(300)}`;
    try {
      await env.src.tx(
        setUrl('AgentLog', env.rx.urlFor('/ok')),
        setUrl('AgentBreak', 'not a url'),
        setUrl('FinishInteraction', long),
        ['INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?)', ['nap', 'AgentNap', env.rx.urlFor('/n')]],
      );
      const r = await check(['--json', '--mysql-url', env.src.db.bridgeUrl]);
      assert.equal(r.code, 0, 'bad rows are skipped, the others served: the bridge can run');
      const rows = parseChecks(r).filter((c) => c.name.startsWith('webhook '));
      assert.deepEqual(
        rows.map((c) => [c.status, c.code]),
        [
          ['OK', undefined],
          ['WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
          ['WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
          ['WARN', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ],
      );
      assert.match(rows[1]!.message, /^AgentBreak -> "not a url": url is not a valid absolute URL; skipped$/);
      assert.match(
        rows[2]!.message,
        /^FinishInteraction -> http:\/\/127\.0\.0\.1:9\/a+\.\.\.: url is 319 characters long \(limit 256\)/,
      );
      assert.match(
        rows[3]!.message,
        /^AgentNap -> .*: event "AgentNap" is not one of the six uContact events; skipped$/,
      );
    } finally {
      await env.src.db.exec("DELETE FROM ccdata.webhooks WHERE name = 'nap'; UPDATE ccdata.webhooks SET url = '';");
      await env.src.db.exec('ALTER TABLE ccdata.webhooks MODIFY url VARCHAR(256) NULL');
    }
  });

  void test('--probe: an answering receiver is OK with its status, a closed port a WARN with the reason', async () => {
    await env.src.reset();
    env.rx.clear();
    const port = await closedPort();
    await env.src.tx(
      setUrl('AgentLog', env.rx.urlFor('/probe?token=s3cret-token')),
      setUrl('AgentBreak', `http://127.0.0.1:${port}/gone`),
    );
    env.rx.setResponder(() => ({ status: 204 }));
    try {
      const r = await check(['--json', '--probe', '--mysql-url', env.src.db.bridgeUrl]);
      assert.equal(r.code, 0, 'an unreachable receiver does not stop the bridge');
      const probes = parseChecks(r).filter((c) => c.name === 'probe');
      assert.deepEqual(
        probes.map((c) => [c.status, c.code]),
        [
          ['OK', undefined],
          ['WARN', 'UCW_ERR_DELIVERY_NETWORK'],
        ],
      );
      assert.match(probes[0]!.message, /^http:\/\/127\.0\.0\.1:\d+\/probe\?\[redacted\] answered 204 in \d+ ms$/);
      assert.match(
        probes[1]!.message,
        new RegExp(`^http://127\\.0\\.0\\.1:${port}/gone: could not reach the receiver \\(ECONNREFUSED`),
      );
      assert.ok(!r.stdout.includes('s3cret-token'), 'a query string is printed');
      assert.deepEqual(
        env.rx.requests.map((q) => [q.method, q.path]),
        [['HEAD', '/probe?token=s3cret-token']],
      );

      // As a bridge with --block-private-networks would: loopback is refused, nothing is sent.
      env.rx.clear();
      const blocked = parseChecks(
        await check(['--json', '--probe', '--block-private-networks', '--mysql-url', env.src.db.bridgeUrl]),
      ).filter((c) => c.name === 'probe');
      assert.deepEqual(
        blocked.map((c) => [c.status, c.code]),
        [
          ['WARN', 'UCW_ERR_DELIVERY_BLOCKED'],
          ['WARN', 'UCW_ERR_DELIVERY_BLOCKED'],
        ],
      );
      assert.equal(env.rx.requests.length, 0);
    } finally {
      env.rx.setResponder(() => ({ status: 200, body: '{}' }));
      await env.src.reset();
    }
  });

  void test('the URL from a file as `run` reads it; no URL or a file others can read is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ucw-check-url-'));
    try {
      const file = join(dir, 'mysql-url');
      writeFileSync(file, `${env.src.db.bridgeUrl}\n`, { mode: 0o600 });
      const ok = await check(['--mysql-url-file', file]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      chmodSync(file, 0o644);
      const open = await check([], { UCW_MYSQL_URL_FILE: file });
      assert.equal(open.code, 2);
      assert.match(open.stderr, /UCW_ERR_CONFIG_SECRET_FILE: secret file .* is readable by other users/);
      assert.ok(!open.stderr.includes(env.src.db.bridgeUrl), 'the secret is printed');
      const none = await check([]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /UCW_ERR_CONFIG_INVALID: --mysql-url or --mysql-url-file is required/);
      assert.equal(none.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('--help describes the command and its flags', async () => {
    const r = await runCli(['check', '--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--mysql-url', '--mysql-url-file', '--rules', '--json', '--probe']) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });
});
