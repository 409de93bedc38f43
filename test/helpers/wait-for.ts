// Polls a condition until it yields a truthy value or a deadline passes: tests wait on facts,
// never on fixed sleeps. A probe that throws counts as "not yet"; its last error is reported
// (message and cause) if the deadline passes.

/** A pause for pacing generated traffic, never for waiting on a fact (use waitFor). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitForOptions {
  /** Default 20000. */
  timeoutMs?: number;
  /** Default 25. */
  intervalMs?: number;
  message?: string | (() => string);
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_INTERVAL_MS = 25;

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let threw = false;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      threw = false;
    } catch (err) {
      lastError = err;
      threw = true;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const base = typeof opts.message === 'function' ? opts.message() : (opts.message ?? 'condition not met');
  let text = `waitFor timed out after ${timeoutMs} ms: ${base}`;
  if (threw) {
    text += `; last probe error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
    throw new Error(text, { cause: lastError });
  }
  throw new Error(text);
}
