// zongji-like binlog events for unit tests of the source side: only the fields the listener and the
// transaction assembler read. Rows events default to position 0, as MariaDB 11.4+ writes them
// inside a transaction.

import type { AnyBinlogEvent } from '@vlasky/zongji';
import type { Row } from '../../src/domain/row-change.js';

export const TS = Date.UTC(2026, 2, 2, 14, 10, 0);

/** Table ids of the fake table maps. */
export const QUEUE_LOG = 1;
export const USERS = 2;
export const INTERACTIONS = 3;
const TABLE_MAP = {
  [QUEUE_LOG]: { parentSchema: 'ccrepo', tableName: 'queue_log_repo' },
  [USERS]: { parentSchema: 'ccdata', tableName: 'users' },
  [INTERACTIONS]: { parentSchema: 'ccrepo', tableName: 'interactions' },
};

export function ev(name: string, nextPosition: number, fields: Record<string, unknown> = {}): AnyBinlogEvent {
  return { getEventName: () => name, nextPosition, timestamp: TS, ...fields } as unknown as AnyBinlogEvent;
}

export const writeRows = (tableId: number, rows: Row[], nextPosition = 0): AnyBinlogEvent =>
  ev('writerows', nextPosition, { tableId, tableMap: TABLE_MAP, rows });

export const deleteRows = (tableId: number, rows: Row[], nextPosition = 0): AnyBinlogEvent =>
  ev('deleterows', nextPosition, { tableId, tableMap: TABLE_MAP, rows });

export const updateRows = (
  tableId: number,
  rows: Array<{ before: Row; after: Row }>,
  nextPosition = 0,
): AnyBinlogEvent => ev('updaterows', nextPosition, { tableId, tableMap: TABLE_MAP, rows });

export const query = (sql: string, nextPosition: number): AnyBinlogEvent => ev('query', nextPosition, { query: sql });
export const xid = (nextPosition: number): AnyBinlogEvent => ev('xid', nextPosition);
export const mariadbGtid = (gtid: string, nextPosition: number): AnyBinlogEvent =>
  ev('mariadbgtid', nextPosition, { gtid });
export const rotate = (binlogName: string, position: number): AnyBinlogEvent =>
  ev('rotate', 0, { binlogName, position });
export const xaPrepare = (nextPosition: number, onePhase = false): AnyBinlogEvent =>
  ev('xaprepare', nextPosition, { onePhase });
