// The least-privilege check sees what the bridge user could do through roles: MariaDB's SHOW GRANTS
// lists a granted role and the default role's grants, but not those of a role the user may still
// SET ROLE to. Real roles on the fixture.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';

void describe('privileges granted through roles', { skip: privateServerOnly('creates MariaDB roles') }, () => {
  const env = useIntegrationEnv();
  before(() =>
    env.src.db.exec(`
      CREATE ROLE ucw_ops; GRANT RELOAD, BINLOG ADMIN ON *.* TO ucw_ops;
      CREATE ROLE ucw_fixer; GRANT DELETE ON ccrepo.* TO ucw_fixer;
      GRANT ucw_ops TO 'ucw_bridge'@'%'; GRANT ucw_fixer TO 'ucw_bridge'@'%';
      SET DEFAULT ROLE ucw_ops FOR 'ucw_bridge'@'%';`),
  );

  void test('UCW_WARN_SOURCE_WRITABLE lists the default role and the other granted role', async () => {
    const bridge = env.startBridge();
    const warn = await bridge.waitForLog((l) => l.code === 'UCW_WARN_SOURCE_WRITABLE', 'writable warning');
    assert.deepEqual(warn.privileges, ['RELOAD ON *.*', 'BINLOG ADMIN ON *.*', 'DELETE ON `ccrepo`.*']);
    await bridge.waitReady();
    assert.equal(await bridge.stop(), 0);
  });

  void test('a role granted through another role does not hide the rest of the check', async () => {
    // The user may SET ROLE ucw_outer but not ucw_inner (granted to the role, not to the user).
    await env.src.db.exec(`
      CREATE ROLE ucw_inner; GRANT UPDATE ON ccdata.* TO ucw_inner;
      CREATE ROLE ucw_outer; GRANT ucw_inner TO ucw_outer;
      GRANT ucw_outer TO 'ucw_bridge'@'%';`);
    const bridge = env.startBridge();
    const warn = await bridge.waitForLog((l) => l.code === 'UCW_WARN_SOURCE_WRITABLE', 'writable warning');
    // SET ROLE ucw_inner is refused, but SHOW GRANTS under ucw_outer lists ucw_inner's grants too.
    assert.deepEqual(warn.privileges, [
      'RELOAD ON *.*',
      'BINLOG ADMIN ON *.*',
      'DELETE ON `ccrepo`.*',
      'UPDATE ON `ccdata`.*',
    ]);
    await bridge.waitReady();
    assert.equal(await bridge.stop(), 0);
  });
});
