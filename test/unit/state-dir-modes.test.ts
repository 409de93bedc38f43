// The state directory holds webhook bodies (personal data): under a usual umask (022) it must still
// be 0700 with every file 0600, and an existing directory with looser modes is tightened and logged.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StateStore, OUTBOX_FILE } from '../../src/outbox/state-store.js';

const mode = (path: string): string => `0${(statSync(path).mode & 0o777).toString(8)}`;
const modes = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, mode(join(dir, f))]),
  );

void describe('state directory modes', () => {
  let root = '';
  let umask = 0;
  beforeEach(() => {
    umask = process.umask(0o022);
    root = mkdtempSync(join(tmpdir(), 'ucw-modes-'));
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  void it('creates the directory 0700 and every file in it 0600 under umask 022', () => {
    const dir = join(root, 'state');
    const warnings: unknown[] = [];
    // A new store is created private: nothing to tighten, so nothing reported.
    const o = new StateStore({
      stateDir: dir,
      synchronous: 'normal',
      logger: { info: () => undefined, warn: (obj: unknown) => warnings.push(obj) },
    });
    assert.deepEqual(warnings, []);
    o.commit({ events: [], mirror: [], checkpoint: { file: 'binlog.000001', pos: 4 } });
    assert.equal(mode(dir), '0700');
    assert.deepEqual(modes(dir), {
      'outbox.lock': '0600',
      'outbox.lock.pid': '0600',
      'outbox.sqlite': '0600',
      'outbox.sqlite-shm': '0600',
      'outbox.sqlite-wal': '0600',
    });
    o.close();
    // A read-only reader recreates -wal and -shm: they take the database file's mode.
    const reader = new StateStore({ stateDir: dir, synchronous: 'normal', readonly: true });
    reader.counts();
    assert.equal(mode(join(dir, `${OUTBOX_FILE}-wal`)), '0600');
    assert.equal(mode(join(dir, `${OUTBOX_FILE}-shm`)), '0600');
    reader.close();
  });

  void it('tightens an existing world-readable directory and store, and logs what it changed', () => {
    const dir = join(root, 'old');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const raw = new Database(join(dir, OUTBOX_FILE));
    raw.pragma('journal_mode = WAL');
    raw.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    raw.close();
    assert.equal(mode(join(dir, OUTBOX_FILE)), '0644');

    const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const o = new StateStore({
      stateDir: dir,
      synchronous: 'normal',
      logger: {
        info: () => undefined,
        warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }),
      } as never,
    });
    assert.equal(mode(dir), '0700');
    assert.equal(mode(join(dir, OUTBOX_FILE)), '0600');
    assert.equal(mode(join(dir, `${OUTBOX_FILE}-wal`)), '0600');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.obj.code, 'UCW_WARN_STATE_DIR_MODE');
    assert.deepEqual(warnings[0]!.obj.tightened, [
      { path: dir, from: '0755', to: '0700' },
      { path: join(dir, OUTBOX_FILE), from: '0644', to: '0600' },
    ]);
    o.close();
  });
});
