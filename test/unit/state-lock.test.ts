// The state directory's lock across real processes: a second process is refused at once with
// UCW_ERR_STATE_LOCKED naming the holder's pid, and the kernel frees the lock when the holder is
// SIGKILLed; within one process, stores opened on one directory share the lock.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BridgeError } from '../../src/errors.js';
import { StateStore } from '../../src/outbox/state-store.js';
import { StateLock } from '../../src/outbox/state-lock.js';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import { EXIT_TIMEOUT_MS, exitOf, exitWithin } from '../helpers/child-exit.js';

const LOCK_MODULE = join(PROJECT_ROOT, 'src', 'outbox', 'state-lock.ts');

/** A child process that takes the lock, says so on stdout, and holds it until killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const script =
    `import { StateLock } from ${JSON.stringify(LOCK_MODULE)}; ` +
    `StateLock.acquire(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => c.includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited ${code}: ${err}`)));
  });
  return child;
}

const isLocked = (pid: number) => (err: unknown) =>
  err instanceof BridgeError &&
  err.code === 'UCW_ERR_STATE_LOCKED' &&
  err.message.includes(`(pid ${pid})`) &&
  /Stop the bridge/.test(err.hint ?? '');

void describe('StateLock', () => {
  let dir = '';
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-lock-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  void it('refuses a second process at once, and is free again once the holder is SIGKILLed', async () => {
    const child = await holder(dir);
    children.push(child);
    const t0 = performance.now();
    assert.throws(() => StateLock.acquire(dir), isLocked(child.pid!));
    assert.ok(performance.now() - t0 < 1_000, 'refused without waiting for a busy timeout');
    assert.throws(() => new StateStore({ stateDir: dir, synchronous: 'normal' }), isLocked(child.pid!));
    const exited = exitOf(child);
    child.kill('SIGKILL');
    await exitWithin(child, exited, () => 'lock holder');
    const lock = StateLock.acquire(dir);
    lock.release();
  });

  void it('changes no mode in a directory another process holds (tightening waits for the lock)', async () => {
    const child = await holder(dir);
    children.push(child);
    // The holder's business: a refused opener must not chmod what it does not own.
    chmodSync(dir, 0o755);
    assert.throws(() => new StateStore({ stateDir: dir, synchronous: 'normal' }), isLocked(child.pid!));
    assert.equal(statSync(dir).mode & 0o777, 0o755);
  });

  void it('is shared by stores of one process and released by the last one to close', async () => {
    const a = new StateStore({ stateDir: dir, synchronous: 'normal' });
    const b = new StateStore({ stateDir: dir, synchronous: 'normal' });
    a.close();
    // Still held by b: another process is refused.
    const probe =
      `import { StateLock } from ${JSON.stringify(LOCK_MODULE)}; try { ` +
      `StateLock.acquire(${JSON.stringify(dir)}); console.log('acquired'); } catch (e) { console.log(e.code); }`;
    const tryOnce = (): Promise<string> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
          cwd: PROJECT_ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
        c.once('close', () => resolve(out.trim()));
        // A probe that hangs is killed and its (empty) answer fails the assertion.
        setTimeout(() => c.kill('SIGKILL'), EXIT_TIMEOUT_MS).unref();
      });
    assert.equal(await tryOnce(), 'UCW_ERR_STATE_LOCKED');
    b.close();
    assert.equal(await tryOnce(), 'acquired');
  });
});
