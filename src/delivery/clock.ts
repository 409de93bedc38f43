// Where the delivery scheduler and the flow window get time from: the system clock with safe-timer
// semantics in production, a fake one in unit tests. Invariant: a timer never fires before its delay.

import { safeTimeout, type SafeTimer } from '../safe-timer.js';

export interface Clock {
  now(): number;
  /** Runs `fn` once after `delayMs`; `ref` keeps the process alive meanwhile (default: it does not). */
  setTimeout(fn: () => void, delayMs: number, ref?: boolean): SafeTimer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs, ref = false) => safeTimeout(fn, delayMs, ref),
};
