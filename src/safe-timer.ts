// setTimeout for computed delays. Node fires any delay above 2^31-1 ms (about 24.8 days) after 1 ms,
// so a long pause or Retry-After would fire at once and then probe in a loop. Invariant: the callback
// never runs before `delayMs` has passed (by the clock); longer delays are waited in steps of at most MAX_TIMER_MS.

/** Longest delay one Node timer keeps (ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SafeTimer {
  clear(): void;
}

/** Runs `fn` once after `delayMs` (NaN or negative: at once; Infinity: never). Unref'd unless `ref`. */
export function safeTimeout(fn: () => void, delayMs: number, ref = false): SafeTimer {
  const deadline = Date.now() + (delayMs > 0 ? delayMs : 0);
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const rest = Math.max(0, deadline - Date.now());
    timer = setTimeout(rest > MAX_TIMER_MS ? arm : fn, Math.min(rest, MAX_TIMER_MS));
    if (!ref) timer.unref();
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
