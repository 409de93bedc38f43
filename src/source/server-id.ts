// The replica server id the bridge presents on its binlog connection. Invariant: an explicit
// --server-id wins; otherwise one random id in the high half of the 32-bit range is drawn once per
// state directory and kept in its meta table, so two bridges (two state dirs) never share one.

import { randomInt } from 'node:crypto';
import type { Logger } from '../logger.js';

export const SERVER_ID_META_KEY = 'source_server_id';
/** Derived ids stay clear of the small ids real servers and replicas are usually given. */
export const DERIVED_SERVER_ID_MIN = 2 ** 31;
export const DERIVED_SERVER_ID_MAX = 2 ** 32 - 1;

export interface MetaStore {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

export function replicaServerId(
  explicit: number | undefined,
  meta: MetaStore,
  log: Logger,
  random: (min: number, max: number) => number = randomInt,
): number {
  if (explicit !== undefined) return explicit;
  const stored = Number(meta.getMeta(SERVER_ID_META_KEY));
  if (Number.isInteger(stored) && stored >= DERIVED_SERVER_ID_MIN && stored <= DERIVED_SERVER_ID_MAX) return stored;
  const id = random(DERIVED_SERVER_ID_MIN, DERIVED_SERVER_ID_MAX + 1);
  meta.setMeta(SERVER_ID_META_KEY, String(id));
  log.info({ serverId: id }, 'replica server id derived for this state directory (set --server-id to choose one)');
  return id;
}

/**
 * A server id for a one-off binlog reader (`replay`) beside the bridge: drawn at random in the derived
 * range, never one of `taken` (the bridge's). The server drops an older connection that presents the
 * same id, so sharing the bridge's would cut its stream.
 */
export function oneOffServerId(
  taken: ReadonlyArray<number | undefined>,
  random: (min: number, max: number) => number = randomInt,
): number {
  for (;;) {
    const id = random(DERIVED_SERVER_ID_MIN, DERIVED_SERVER_ID_MAX + 1);
    if (!taken.includes(id)) return id;
  }
}
