// After a burst (a catch-up, a backlog drained), memory the bridge no longer needs stays resident:
// V8 gives heap pages back only after a full garbage collection, which an idle process seldom runs,
// and SQLite keeps its page cache. Once the process has been busy and is then idle for a whole
// check interval, one full collection (and the caller's own release, e.g. SQLite's shrink_memory)
// hands it back: tens of milliseconds once per idle period, never while there is work.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often the process's CPU use is looked at. */
export const IDLE_CHECK_MS = 2_000;
/** Busy: more than this share of one core over a check interval. */
const BUSY_SHARE = 0.2;
/** Idle: less than this share of one core over a whole check interval. */
const IDLE_SHARE = 0.03;

let gc: (() => void) | undefined;

/** A full garbage collection of this thread's heap, without starting node with --expose-gc. */
export function fullGc(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

export interface IdleTrimOptions {
  /** Frees what can be freed (runs fullGc first). */
  readonly release?: () => void;
  /** CPU microseconds used so far (process.cpuUsage by default). */
  readonly cpuMicros?: () => number;
  readonly intervalMs?: number;
}

/** Decides, one check interval at a time, when to trim: once after each busy period that went idle. */
export class IdleTrim {
  private last: number;
  private busySinceTrim = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly cpuMicros: () => number;
  /** Trims done (for tests and logs). */
  trims = 0;

  constructor(private readonly opts: IdleTrimOptions = {}) {
    this.intervalMs = opts.intervalMs ?? IDLE_CHECK_MS;
    this.cpuMicros =
      opts.cpuMicros ??
      (() => {
        const u = process.cpuUsage();
        return u.user + u.system;
      });
    this.last = this.cpuMicros();
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check: the CPU share since the last one says busy, idle or neither. */
  check(): boolean {
    const now = this.cpuMicros();
    const share = (now - this.last) / 1000 / this.intervalMs;
    this.last = now;
    if (share > BUSY_SHARE) this.busySinceTrim = true;
    if (!this.busySinceTrim || share >= IDLE_SHARE) return false;
    this.busySinceTrim = false;
    fullGc();
    this.opts.release?.();
    this.trims++;
    // The collection's own CPU is not the next interval's work.
    this.last = this.cpuMicros();
    return true;
  }
}
