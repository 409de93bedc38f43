// A server whose binlog cannot give full row images is refused at start with a coded error and an
// explanation; an unreachable server is retried (not fatal) while /readyz says why.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { metric, scrape } from '../helpers/metrics-text.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { agentOf } from '../helpers/bodies.js';
import { startPortGate } from '../helpers/port-gate.js';

/** KILLs every connection of the bridge's user: its stream and queries fail and it reconnects. */
async function killBridgeConnections(src: SourceFixture): Promise<number> {
  const [rows] = (await src.admin.query(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'ucw_bridge'",
  )) as unknown as [Array<{ ID: number }>];
  for (const r of rows) await src.admin.query(`KILL CONNECTION ${r.ID}`).catch(() => undefined);
  return rows.length;
}

/** What the general query log may hold for the bridge's user: only reads. */
const ALLOWED_COMMANDS = new Set(['Connect', 'Quit', 'Query', 'Binlog Dump', 'Register Slave', 'Ping', 'Init DB']);
/** A read: SELECT (not INTO a file, not locking), SHOW, or SET of the session's own variables. */
function isRead(sql: string): boolean {
  const text = sql.replace(/\/\*.*?\*\//gs, ' ').trim();
  if (/^SHOW\s/i.test(text)) return true;
  if (/^SELECT\s/i.test(text)) return !/\bINTO\s+(OUTFILE|DUMPFILE)\b|\bFOR\s+UPDATE\b|\bLOCK\s+IN\b/i.test(text);
  if (/^SET\s/i.test(text))
    return !/^SET\s+(GLOBAL|PERSIST|PERSIST_ONLY|PASSWORD|@@global\.|DEFAULT\s+ROLE)/i.test(text);
  return false;
}

void describe('preflight of the source server', () => {
  const env = useIntegrationEnv();

  for (const [variable, value, code] of [
    ['binlog_format', 'MIXED', 'UCW_ERR_SOURCE_BINLOG_FORMAT'],
    ['binlog_row_image', 'MINIMAL', 'UCW_ERR_SOURCE_ROW_IMAGE'],
  ] as const) {
    void test(
      `${variable}=${value} stops the bridge with ${code}`,
      { skip: privateServerOnly('sets binlog settings globally') },
      async () => {
        const { src } = env;
        await src.db.exec(`SET GLOBAL ${variable} = '${value}'`);
        try {
          const bridge = env.startBridge();
          const code1 = await bridge.waitExit();
          assert.equal(code1, 1);
          const fatal = bridge.logs.find((l) => l.level === 'fatal');
          assert.equal(fatal?.code, code);
          assert.match(String(fatal?.hint), /SET GLOBAL/);
          assert.match(bridge.stderr.join(''), new RegExp(`${code}: ${variable} is ${value}`));
        } finally {
          await src.db.exec(`SET GLOBAL ${variable} = '${variable === 'binlog_format' ? 'ROW' : 'FULL'}'`);
        }
      },
    );
  }

  void test(
    'a wrong password is retried with UCW_ERR_SOURCE_AUTH ' + 'and /readyz explains it; the password is never logged',
    async () => {
      const url = new URL(env.src.db.bridgeUrl);
      url.password = 'definitely-wrong-pw';
      const bridge = env.startBridge({ mysqlUrl: url.toString() });
      try {
        await bridge.waitForLog(
          (l) => l.code === 'UCW_ERR_SOURCE_AUTH' && l.msg === 'source unavailable; reconnecting',
          'auth retry',
        );
        await bridge.waitForLog(
          (l) => l.msg === 'source unavailable; reconnecting' && l.failures === 2,
          'second retry',
        );
        const res = await fetch(`http://127.0.0.1:${bridge.httpPort()}/readyz`);
        assert.equal(res.status, 503);
        const readyText = await res.text();
        assert.match(readyText, /UCW_ERR_SOURCE_AUTH/);
        // Two coded retries seen: every output so far (logs, stderr, /readyz, /metrics) is free of it.
        const everything =
          JSON.stringify(bridge.logs) + bridge.stderr.join('') + (await scrape(bridge.httpPort())) + readyText;
        assert.ok(!everything.includes('definitely-wrong-pw'), 'password leaked');
      } finally {
        assert.equal(await bridge.stop(), 0);
      }
    },
  );

  void test(
    'least privilege: a user that could write gets ' + 'UCW_WARN_SOURCE_WRITABLE; the bridge user does not',
    async () => {
      const admin = env.startBridge({ mysqlUrl: env.src.db.adminUrl });
      const warn = await admin.waitForLog((l) => l.code === 'UCW_WARN_SOURCE_WRITABLE', 'writable warning');
      assert.ok(
        (warn.privileges as string[]).some((p) => p.startsWith('ALL PRIVILEGES')),
        JSON.stringify(warn),
      );
      assert.equal(await admin.stop(), 0);

      const bridge = env.startBridge();
      await bridge.waitReady();
      assert.ok(
        !bridge.logs.some((l) => l.code === 'UCW_WARN_SOURCE_WRITABLE'),
        'the least-privileged user is not warned about',
      );
      assert.equal(await bridge.stop(), 0);
    },
  );

  for (const [user, grants, missing] of [
    ['ucw_no_repl', 'BINLOG MONITOR ON *.*', 'REPLICATION SLAVE'],
    ['ucw_no_monitor', 'REPLICATION SLAVE ON *.*', 'BINLOG MONITOR'],
  ] as const) {
    void test(
      `a user without ${missing} is retried with UCW_ERR_SOURCE_GRANTS and /readyz says so`,
      { skip: privateServerOnly("creates users in MariaDB's grant syntax") },
      async () => {
        const { src } = env;
        await src.db.exec(
          `CREATE USER '${user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('pw-${user}');
        GRANT ${grants} TO '${user}'@'%'; GRANT SELECT ON ccdata.* ` +
            `TO '${user}'@'%'; GRANT SELECT ON ccrepo.* TO '${user}'@'%';`,
        );
        const url = new URL(src.db.bridgeUrl);
        url.username = user;
        url.password = `pw-${user}`;
        // With a checkpoint the binlog end is not needed, so the missing REPLICATION SLAVE shows on the stream.
        const bridge = env.startBridge({ mysqlUrl: url.toString() });
        try {
          await bridge.waitForLog(
            (l) =>
              l.code === 'UCW_ERR_SOURCE_GRANTS' &&
              l.msg === 'source unavailable; reconnecting' &&
              (l.failures as number) >= 2,
            'grants retry',
          );
          const res = await fetch(`http://127.0.0.1:${bridge.httpPort()}/readyz`);
          assert.equal(res.status, 503);
          assert.match(await res.text(), /UCW_ERR_SOURCE_GRANTS/);
        } finally {
          assert.equal(await bridge.stop(), 0);
        }
      },
    );
  }

  void test(
    'read-only, proven by the server: through start, traffic and a reconnect, the bridge user sends only reads',
    { skip: privateServerOnly('turns on the general query log') },
    async () => {
      const { src, rx } = env;
      rx.clear();
      await src.tx(setUrl('AgentLog', rx.urlFor('/read-only')));
      await src.db.exec(
        "SET GLOBAL log_output = 'TABLE'; TRUNCATE TABLE mysql.general_log; SET GLOBAL general_log = ON",
      );
      let statements: Array<{ thread: number; command: string; argument: string }>;
      let threads = new Set<number>();
      try {
        const bridge = env.startBridge();
        await bridge.waitReady();
        await src.tx(queueLog({ time: '2026-03-02 09:00:01.000', event: 'AGENTLOGIN', agent: 'ro-1' }));
        await waitFor(() => rx.requests.some((r) => agentOf(r.body) === 'ro-1'), { message: 'ro-1 not delivered' });
        assert.ok((await killBridgeConnections(src)) > 0, 'the bridge had no connection');
        await waitFor(async () => (await metric(bridge.httpPort(), 'ucw_source_reconnects_total')) >= 1, {
          message: 'no reconnect after KILL',
        });
        await bridge.waitReady();
        await src.tx(queueLog({ time: '2026-03-02 09:00:02.000', event: 'AGENTLOGIN', agent: 'ro-2' }));
        await waitFor(() => rx.requests.some((r) => agentOf(r.body) === 'ro-2'), { message: 'ro-2 not delivered' });
        assert.equal(await bridge.stop(), 0);
      } finally {
        await src.db.exec('SET GLOBAL general_log = OFF');
        const [rows] = (await src.admin.query(
          'SELECT thread_id AS thread, command_type AS command, CONVERT(argument USING utf8mb4) AS argument ' +
            'FROM mysql.general_log ORDER BY event_time',
        )) as unknown as [Array<{ thread: number; command: string; argument: string }>];
        // The bridge's threads: those that logged in as its user.
        threads = new Set(
          rows.filter((r) => r.command === 'Connect' && r.argument.startsWith('ucw_bridge@')).map((r) => r.thread),
        );
        statements = rows.filter((r) => threads.has(r.thread));
        await src.admin.query('TRUNCATE TABLE mysql.general_log');
      }
      const commands = (name: string): number => statements.filter((s) => s.command === name).length;
      assert.ok(commands('Binlog Dump') >= 2, 'a dump before and after the reconnect');
      assert.ok(commands('Query') > 0);
      // zongji ends its own binlog connection with KILL <its thread id> when the stream stops: allowed
      // only for a thread of the bridge's own user (ending its own session changes nothing).
      const ownKill = (sql: string): boolean => {
        const m = /^KILL\s+(?:CONNECTION\s+)?(\d+)$/i.exec(sql.trim());
        return m !== null && threads.has(Number(m[1]));
      };
      const notAllowed = statements.filter(
        (s) =>
          !ALLOWED_COMMANDS.has(s.command) || (s.command === 'Query' && !isRead(s.argument) && !ownKill(s.argument)),
      );
      assert.deepEqual(notAllowed, [], 'the bridge user sent something other than a read');
    },
  );

  void test(
    'binlog settings are re-checked on reconnect: binlog_format changed while connected stops the bridge',
    { skip: privateServerOnly('sets binlog settings globally') },
    async () => {
      const { src } = env;
      const bridge = env.startBridge();
      await bridge.waitReady();
      await src.db.exec("SET GLOBAL binlog_format = 'MIXED'");
      try {
        assert.ok((await killBridgeConnections(src)) > 0, 'the bridge had no connection');
        assert.equal(await bridge.waitExit(), 1, 'a fatal preflight failure on reconnect exits 1');
        const fatal = bridge.logs.find((l) => l.level === 'fatal');
        assert.equal(fatal?.code, 'UCW_ERR_SOURCE_BINLOG_FORMAT', JSON.stringify(fatal));
        assert.match(String(fatal?.hint), /SET GLOBAL/);
      } finally {
        await src.db.exec("SET GLOBAL binlog_format = 'ROW'");
      }
    },
  );

  void test('an unreachable host is retried with UCW_ERR_SOURCE_CONNECT and /readyz says so', async (t) => {
    // A port held by a listener that resets: nothing else can take it while the test runs.
    const dead = await startPortGate();
    t.after(() => dead.close());
    const url = new URL(env.src.db.bridgeUrl);
    url.port = String(dead.port);
    const bridge = env.startBridge({ mysqlUrl: url.toString() });
    try {
      await bridge.waitForLog(
        (l) =>
          l.code === 'UCW_ERR_SOURCE_CONNECT' &&
          l.msg === 'source unavailable; reconnecting' &&
          (l.failures as number) >= 2,
        'connect retry',
      );
      const res = await fetch(`http://127.0.0.1:${bridge.httpPort()}/readyz`);
      assert.equal(res.status, 503);
      assert.match(await res.text(), /UCW_ERR_SOURCE_CONNECT/);
    } finally {
      assert.equal(await bridge.stop(), 0);
    }
  });
});
