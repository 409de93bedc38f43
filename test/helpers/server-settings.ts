// Server settings as the fixture's MariaDB 10.11 answers them (recorded): the base of unit tests of
// the source side, which override a field to play MySQL 8 or a misconfigured server.

import type { ServerSettings } from '../../src/source/source-db.js';

export const MARIADB_10_11: ServerSettings = {
  version: '10.11.19-MariaDB-0+deb12u1-log',
  isMariaDb: true,
  serverId: 1,
  logBin: true,
  binlogFormat: 'ROW',
  binlogRowImage: 'FULL',
  binlogRowMetadata: 'FULL',
  serverUuid: undefined,
  // MariaDB answers 1193 Unknown system variable: read as undefined.
  binlogTransactionCompression: undefined,
  binlogRowValueOptions: undefined,
};
