// A Clock for unit tests: time moves only when the test says, timers fire in due order, and the
// promise work each one starts settles before the next fires. No wall-clock sleep anywhere.

import type { Clock } from '../../src/delivery/clock.js';
import type { SafeTimer } from '../../src/safe-timer.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  live: boolean;
}

/** Lets pending promise callbacks run (each turn drains the microtask queue). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  constructor(private nowMs = Date.UTC(2026, 2, 2, 15, 0, 0)) {}

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, delayMs: number): SafeTimer {
    const t: Timer = { at: this.nowMs + (delayMs > 0 ? delayMs : 0), seq: this.seq++, fn, live: true };
    if (t.at !== Infinity) this.timers.push(t);
    return { clear: () => void (t.live = false) };
  }

  /** Resolves after `ms` of fake time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Moves time `ms` forward, firing the timers due on the way in order, letting each one's work settle. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    for (;;) {
      await flush();
      const next = this.next();
      if (!next || next.at > target) break;
      this.fire(next);
    }
    this.nowMs = target;
    await flush();
  }

  /** Runs timers in due order until `cond` holds; fails when none is left or `maxMs` of fake time passed. */
  async until(
    cond: () => boolean,
    message: string | (() => string) = 'condition not met',
    maxMs = 3_600_000,
  ): Promise<void> {
    const deadline = this.nowMs + maxMs;
    for (;;) {
      await flush();
      if (cond()) return;
      const next = this.next();
      if (!next || next.at > deadline)
        throw new Error(
          `${typeof message === 'string' ? message : message()} (fake clock at +${maxMs - (deadline - this.nowMs)} ms)`,
        );
      this.fire(next);
    }
  }

  private next(): Timer | undefined {
    this.timers = this.timers.filter((t) => t.live);
    let first: Timer | undefined;
    for (const t of this.timers) if (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq)) first = t;
    return first;
  }

  private fire(t: Timer): void {
    t.live = false;
    if (t.at > this.nowMs) this.nowMs = t.at;
    t.fn();
  }
}
