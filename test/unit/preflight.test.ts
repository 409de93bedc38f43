import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writePrivileges } from '../../src/source/preflight.js';

void test('writePrivileges finds what lets a user change the source, and nothing in read-only grants', () => {
  const readOnly = [
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `ucw_bridge`@`%` IDENTIFIED BY PASSWORD '*ABC'",
    'GRANT SELECT ON `ccdata`.* TO `ucw_bridge`@`%`',
    'GRANT SELECT ON `ccrepo`.* TO `ucw_bridge`@`%`',
  ];
  assert.deepEqual(writePrivileges(readOnly), []);
  assert.deepEqual(writePrivileges(['GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION']), ['ALL PRIVILEGES ON *.*']);
  assert.deepEqual(writePrivileges(['GRANT SELECT, INSERT, UPDATE ON `ccrepo`.* TO `x`@`%`']), ['INSERT ON `ccrepo`.*', 'UPDATE ON `ccrepo`.*']);
  assert.deepEqual(writePrivileges(['GRANT PROXY ON ``@`%` TO `root`@`localhost`']), []);
});
