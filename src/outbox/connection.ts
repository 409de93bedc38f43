// Opening the store's SQLite connection. A writable one is made only under the state directory's
// lock (modes tightened, WAL, incremental auto-vacuum); a read-only one changes nothing. Invariant: a
// writable connection exists only in the process that holds the state directory's lock.

import Database, { type Database as Db } from 'better-sqlite3';
import { BridgeError, type WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { createPrivateFile, createStateDir, restrictFile, tightenStateDir } from './state-dir.js';
import { StateLock } from './state-lock.js';

/** The WAL file is cut back to this size after a checkpoint (it otherwise stays at its largest). */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
const AUTO_VACUUM_INCREMENTAL = 2;

export type StoreLogger = Pick<Logger, 'info' | 'warn'>;

export function openError(path: string, err: unknown): BridgeError {
  return new BridgeError('UCW_ERR_OUTBOX_OPEN', `cannot open the state store ${path}: ${(err as Error).message}`, {
    hint: 'Check that --state-dir is a writable directory with free disk space.',
    cause: err,
  });
}

/**
 * Takes the state directory's lock (UCW_ERR_STATE_LOCKED if another process holds it), then opens
 * the store at `path` in it with its pragmas. The caller owns both and releases both.
 */
export function openWritable(
  stateDir: string,
  path: string,
  synchronous: 'normal' | 'full',
  logger: StoreLogger | undefined,
): { db: Db; lock: StateLock } {
  let lock: StateLock | undefined;
  let db: Db | undefined;
  try {
    createStateDir(stateDir);
    // Modes are the holder's business: a refused opener (UCW_ERR_STATE_LOCKED) changes nothing.
    lock = StateLock.acquire(stateDir);
    const tightened = tightenStateDir(stateDir);
    createPrivateFile(path);
    db = new Database(path);
    // SQLite creates -wal and -shm with the database file's mode: 0600 once this file is.
    for (const f of [path, `${path}-wal`, `${path}-shm`]) tightened.push(...restrictFile(f));
    if (tightened.length > 0) {
      logger?.warn(
        { code: 'UCW_WARN_STATE_DIR_MODE' satisfies WarningCode, tightened },
        'state directory was readable by other users; modes tightened',
      );
    }
    // Takes effect only in a new, empty file, and only before journal_mode is set (that writes the
    // header); an existing store is switched by one VACUUM (switchToIncrementalVacuum()).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.pragma('busy_timeout = 5000');
    // 8 MB of page cache (default 2 MB): the pages being appended and updated stay in memory.
    db.pragma('cache_size = -8000');
    return { db, lock };
  } catch (err) {
    db?.close();
    lock?.release();
    if (err instanceof BridgeError) throw err;
    throw openError(path, err);
  }
}

/** A read-only connection to an existing store of one of `versions` (it reads while a bridge writes). */
export function openReadonly(path: string, versions: readonly string[]): Db {
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const hasMeta =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    const version = hasMeta
      ? (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as string | undefined)
      : undefined;
    if (version === undefined || !versions.includes(version)) {
      throw new BridgeError(
        'UCW_ERR_OUTBOX_OPEN',
        `state store ${path} has schema version ${version ?? 'none'}; this command reads ${versions.join(' or ')}`,
        {
          hint:
            'Run this bridge version once on the state directory (it ' +
            'migrates the store), or use the version that wrote it.',
        },
      );
    }
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof BridgeError) throw err;
    throw new BridgeError('UCW_ERR_OUTBOX_OPEN', `cannot read the state store ${path}: ${(err as Error).message}`, {
      hint:
        'Check that --state-dir names the state directory of a ' +
        'bridge that has run at least once, and that it is readable.',
      cause: err,
    });
  }
}

/**
 * A store created before v3 (auto_vacuum NONE) keeps its largest size for ever: freed pages are
 * reused but never returned. One VACUUM rewrites it with incremental auto-vacuum; it takes time in
 * proportion to the store and as much free disk, once. If it fails (disk full), the store is used
 * as it is and the next start tries again.
 */
export function switchToIncrementalVacuum(db: Db, logger: StoreLogger | undefined): void {
  if (db.pragma('auto_vacuum', { simple: true }) === AUTO_VACUUM_INCREMENTAL) return;
  const t0 = performance.now();
  const bytes =
    (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  try {
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (err) {
    logger?.warn(
      { code: 'UCW_WARN_OUTBOX_VACUUM' satisfies WarningCode, bytes, err },
      'could not rewrite the state store for incremental vacuum; it will ' +
        'not shrink until this succeeds (tried again at the next start)',
    );
    return;
  }
  logger?.info({ bytes, ms: Math.round(performance.now() - t0) }, 'state store rewritten once for incremental vacuum');
}
