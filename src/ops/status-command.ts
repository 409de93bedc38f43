// `ucontact-webhooks status`: where a bridge stands, safe while it runs. When a bridge holds the state
// dir's lock the snapshot is its own GET /api/status (live figures included); otherwise the store is
// read on a read-only connection (the lock held meanwhile, so no bridge starts half-way) and then, the
// lock released, with --mysql-url the server is asked for its head and purge settings. Nothing is written anywhere.

import { VERSION } from '../app.js';
import { outboxPauseStore } from '../delivery/pause-store.js';
import { BridgeError, isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { StateLock } from '../outbox/state-lock.js';
import { StateStore } from '../outbox/state-store.js';
import { parseMysqlUrl } from '../source/connection.js';
import { SourceDb } from '../source/source-db.js';
import { adminClientFor } from './admin-client.js';
import { rateBetween, readServerBinlog, serverFields } from './source-lag-query.js';
import { buildSnapshot, DEAD_LETTERS_SHOWN } from './status.js';
import type { SourceStatus, StatusSnapshot } from './status-types.js';

/** Between the two reads of the server's head that measure its write rate (only with a size cap). */
const RATE_SAMPLE_MS = 2_000;

export interface StatusOptions {
  readonly stateDir: string | undefined;
  readonly mysqlUrl?: string | undefined;
  /** Asks the source server for its head and purge settings (tests inject one). */
  readonly readServer?: typeof askServer;
}

const quiet = { warn: () => undefined } as unknown as Logger;

/** The lock when no bridge holds it; undefined when one does. */
function lockIfFree(stateDir: string): StateLock | 'held' | undefined {
  try {
    return StateLock.acquire(stateDir);
  } catch (err) {
    if (isBridgeError(err) && err.code === 'UCW_ERR_STATE_LOCKED') return 'held';
    // No such directory: the read-only open below says so with its own hint.
    return undefined;
  }
}

async function askServer(mysqlUrl: string, checkpoint: StoreCheckpoint): Promise<Partial<SourceStatus>> {
  const db = new SourceDb(parseMysqlUrl(mysqlUrl));
  try {
    let server = await readServerBinlog(db);
    let rate: number | undefined;
    if (server.retention.totalSizeCapBytes) {
      await new Promise((resolve) => setTimeout(resolve, RATE_SAMPLE_MS));
      const later = await readServerBinlog(db);
      rate = rateBetween(server, later);
      server = later;
    }
    return serverFields(server, checkpoint, rate, Date.now());
  } finally {
    await db.close();
  }
}

type StoreCheckpoint = ReturnType<StateStore['storedCheckpoint']>;

export async function readStatus(opts: StatusOptions): Promise<StatusSnapshot> {
  const { stateDir } = opts;
  if (!stateDir) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--state-dir is required', {
      hint: 'Pass the --state-dir of the bridge.',
    });
  }
  const lock = lockIfFree(stateDir);
  if (lock === 'held') return adminClientFor(stateDir).call<StatusSnapshot>('GET', '/api/status');
  // The lock only while the store is read (no bridge starts half-way through it): released before the
  // server is asked, which can take seconds, so a bridge (re)starting meanwhile is never refused.
  let storeStatus: ReturnType<StateStore['status']>;
  let pauses: ReturnType<ReturnType<typeof outboxPauseStore>['load']>;
  try {
    const store = new StateStore({ stateDir, synchronous: 'full', readonly: true });
    try {
      storeStatus = store.status(DEAD_LETTERS_SHOWN);
      pauses = outboxPauseStore(store, quiet).load();
    } finally {
      store.close();
    }
  } finally {
    lock?.release();
  }
  const server = opts.mysqlUrl
    ? await (opts.readServer ?? askServer)(opts.mysqlUrl, storeStatus.checkpoint)
    : undefined;
  return buildSnapshot({ version: VERSION, nowMs: Date.now(), store: storeStatus, pauses, server });
}
