// `status` without a running bridge: the state dir's lock is released as soon as the store is read,
// before the source server is asked (which can take seconds), so a bridge starting meanwhile is not
// refused. The lock is probed as another process would: a second SQLite connection on the lock file.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { readStatus } from '../../src/ops/status-command.js';
import { LOCK_FILE } from '../../src/outbox/state-lock.js';
import { StateStore } from '../../src/outbox/state-store.js';

/** Whether another opener could take the lock now (BEGIN EXCLUSIVE with no wait, as StateLock does). */
function lockIsFree(stateDir: string): boolean {
  const db = new Database(join(stateDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return false;
    throw err;
  } finally {
    db.close();
  }
}

void describe('status command', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-status-cmd-'));
    new StateStore({ stateDir: dir, synchronous: 'normal' }).close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('releases the state dir lock before asking the source server', async () => {
    const seen: boolean[] = [];
    const snap = await readStatus({
      stateDir: dir,
      mysqlUrl: 'mysql://u@127.0.0.1:1/ccdata',
      readServer: () => {
        seen.push(lockIsFree(dir));
        return Promise.resolve({});
      },
    });
    assert.deepEqual(seen, [true], 'a bridge starting while the server is asked would be refused');
    assert.equal(snap.from, 'store');
    assert.equal(lockIsFree(dir), true);
  });
});
