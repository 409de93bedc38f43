// The state directory's owner lock: at most one process at a time changes a state directory (a
// running bridge, or an offline command that writes). Invariant: the lock is an fcntl lock SQLite
// holds on `outbox.lock` for the holder's life, so the kernel releases it when the holder dies,
// even by SIGKILL: no stale lock ever blocks a restart.

import Database, { type Database as Db } from 'better-sqlite3';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BridgeError } from '../errors.js';
import { createPrivateFile, restrictFile } from './state-dir.js';

export const LOCK_FILE = 'outbox.lock';
/** The holder's pid, for the message a refused opener prints (only read while the lock is held). */
export const LOCK_PID_FILE = 'outbox.lock.pid';

interface Held {
  readonly db: Db;
  refs: number;
}

/** Locks this process holds, by real directory path: two stores opened here on one directory share it. */
const held = new Map<string, Held>();

export class StateLock {
  private released = false;

  private constructor(private readonly key: string) {}

  /**
   * Takes the directory's lock, or throws UCW_ERR_STATE_LOCKED at once (no waiting) when another
   * process holds it. The directory must exist.
   */
  static acquire(stateDir: string): StateLock {
    const key = realpathSync(stateDir);
    const mine = held.get(key);
    if (mine) {
      mine.refs++;
      return new StateLock(key);
    }
    const path = join(key, LOCK_FILE);
    // A write transaction in exclusive locking mode keeps SQLite's fcntl write lock on the file until
    // the connection closes; busy_timeout 0 makes a second opener fail at once instead of waiting.
    createPrivateFile(path);
    const db = new Database(path, { timeout: 0 });
    try {
      restrictFile(path);
      db.pragma('locking_mode = EXCLUSIVE');
      // Nothing is ever written to the lock file: no journal file beside it either.
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
      const pid = holderPid(key);
      throw new BridgeError(
        'UCW_ERR_STATE_LOCKED',
        `state directory ${stateDir} is in use by another process${pid ? ` (pid ${pid})` : ''}`,
        {
          hint:
            'Stop the bridge running on this state directory first to run a command that changes the store ' +
            '(`deliveries` commands work while it runs), or give this bridge its own --state-dir.',
          details: { stateDir, pid },
        },
      );
    }
    const pidPath = join(key, LOCK_PID_FILE);
    writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
    restrictFile(pidPath);
    held.set(key, { db, refs: 1 });
    return new StateLock(key);
  }

  /** Gives the lock up (the last holder in this process closes the lock file, which unlocks it). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const h = held.get(this.key);
    if (!h || --h.refs > 0) return;
    held.delete(this.key);
    h.db.close();
  }
}

function holderPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, LOCK_PID_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
