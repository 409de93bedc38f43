// A server whose binlog cannot give full row images is refused at start with a coded error and an
// explanation; an unreachable server is retried (not fatal) while /readyz says why.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { waitFor } from '../helpers/wait-for.js';

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
        assert.match(await res.text(), /UCW_ERR_SOURCE_AUTH/);
        await waitFor(() => bridge.logs.length > 3);
        assert.ok(!JSON.stringify(bridge.logs).includes('definitely-wrong-pw'), 'password leaked into logs');
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
});
