// The UCW_TEST_MYSQL_URL switch's decisions from a server's answers: whether it can serve the suite,
// and which statement reads its binlog end (versions as MySQL 8.0, 8.4 and MariaDB 10.11 print them).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binlogStatusSql, externalServerProblem } from '../helpers/external-server.js';

const READY = { logBin: 1, binlogFormat: 'ROW', binlogRowImage: 'FULL', binlogRowMetadata: 'FULL' };

void describe('external test server', () => {
  void it('a configured MySQL 8.4 or MariaDB serves; otherwise one line names every missing setting', () => {
    assert.equal(externalServerProblem({ version: '8.4.3', ...READY }), undefined);
    assert.equal(externalServerProblem({ version: '10.11.19-MariaDB-0+deb12u1-log', ...READY }), undefined);
    // mysql:8.4 started without flags: binlog_row_metadata is MINIMAL by default.
    assert.equal(
      externalServerProblem({ version: '8.4.3', ...READY, binlogRowMetadata: 'MINIMAL' }),
      'server 8.4.3 is not configured for the bridge: needs binlog_row_metadata=FULL',
    );
    assert.equal(
      externalServerProblem({ version: '8.0.36', ...READY, logBin: 0, binlogFormat: 'MIXED' }),
      'server 8.0.36 is not configured for the bridge: needs log_bin=ON, binlog_format=ROW',
    );
    assert.equal(
      externalServerProblem({ version: 'PostgreSQL 16', ...READY }),
      "server version 'PostgreSQL 16' is not MySQL-compatible",
    );
  });

  void it('SHOW BINARY LOG STATUS from MySQL 8.2 on, SHOW MASTER STATUS before and on MariaDB', () => {
    assert.equal(binlogStatusSql('8.4.3'), 'SHOW BINARY LOG STATUS');
    assert.equal(binlogStatusSql('8.2.0'), 'SHOW BINARY LOG STATUS');
    assert.equal(binlogStatusSql('8.0.36'), 'SHOW MASTER STATUS');
    assert.equal(binlogStatusSql('10.11.19-MariaDB-0+deb12u1-log'), 'SHOW MASTER STATUS');
  });
});
