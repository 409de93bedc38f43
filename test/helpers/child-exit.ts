// Bounded waits on a child process's exit: a test fails instead of hanging. On expiry the child is
// SIGKILLed by its PID and the wait rejects with the caller's description (its last log lines).

import type { ChildProcess } from 'node:child_process';

/** Default bound on one exit: a clean stop takes the shutdown grace (2 s in tests) plus closing. */
export const EXIT_TIMEOUT_MS = 30_000;

/** Resolves with the exit code once `child` has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * `exited` (the child's exit promise) within `timeoutMs`; past it the child is SIGKILLed by PID and
 * the returned promise rejects with `describe()`.
 */
export async function exitWithin(
  child: Pick<ChildProcess, 'pid'>,
  exited: Promise<number | null>,
  describe: () => string,
  timeoutMs = EXIT_TIMEOUT_MS,
): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), timeoutMs);
  });
  try {
    const first = await Promise.race([exited, expired]);
    if (first !== 'expired') return first;
  } finally {
    clearTimeout(timer);
  }
  if (child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // gone between the deadline and the kill
    }
  }
  throw new Error(`pid ${child.pid} did not exit within ${timeoutMs} ms (SIGKILLed); ${describe()}`);
}

/** Last `n` lines of collected output, for failure messages. */
export const tail = (text: string, n = 20): string => text.split('\n').slice(-n).join('\n');
