// The health of one webhook URL as a pure state machine: answers, retryable failures, 410 Gone and
// "wait over" come in; what to do comes out (mark failing or pause until T, probe, resume). No timers
// and no I/O here: the scheduler arms the timer, saves pauses, sets gauges and logs from the actions.
// healthy: requests go out freely. failing: FAILURES_TO_FAILING retryable failures in a row, waits a
// growing delay. paused: answered 410 Gone, waits gonePauseMs. After its wait, either state probes:
// one delivery at a time until an answer (failing) or a 2xx (paused) resumes the URL.

import type { RetryPolicy } from './retry-policy.js';
import type { SavedPause } from './pause-store.js';

export type UrlMode = 'healthy' | 'failing' | 'paused';

/** Retryable failures in a row, with no answer between, that mark a URL failing. */
export const FAILURES_TO_FAILING = 5;
/** Longest wait of a failing URL between probes: one request per 10 s is no load on anyone. */
const FAILING_WAIT_MAX_MS = 10_000;

export type HealthAction =
  /** Marked failing (or failed its probe): wait until `untilMs`; `firstOfOutage` is logged at warn. */
  | {
      readonly kind: 'failing';
      readonly untilMs: number;
      readonly waitMs: number;
      readonly failuresInARow: number;
      readonly firstOfOutage: boolean;
    }
  /** Paused after a 410 (or a 410 to its probe): wait until `untilMs`; pauses are to be saved. */
  | { readonly kind: 'paused'; readonly untilMs: number; readonly pauseMs: number }
  /** The wait is over: send one delivery at a time (the probe) until it is answered. */
  | { readonly kind: 'probe'; readonly mode: 'failing' | 'paused' }
  /** Healthy again. From `paused`: the age budget stopped at `sinceMs` resumes; pauses are to be saved. */
  | { readonly kind: 'resumed'; readonly from: 'failing' | 'paused'; readonly sinceMs: number; readonly why: string };

export class UrlHealth {
  mode: UrlMode = 'healthy';
  /** End of the current wait (failing or paused). */
  untilMs = 0;
  /** The wait is over: one probe at a time until it gets its answer. */
  probing = false;
  /** paused: the key whose head is the probe (the one that got the 410). */
  probeKey: string | undefined;
  /** paused: when the URL was first paused (re-pauses keep it); time since then spends no age budget. */
  sinceMs = 0;
  /** Bumped by every new wait: the timer of an earlier one is stale. */
  epoch = 0;
  private failStreak = 0;
  /** Failing waits in a row (their delay doubles). */
  private failingWaits = 0;

  constructor(
    private readonly policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>,
    private readonly gonePauseMs: number,
  ) {}

  /** Failing or paused: sends nothing but probes, drains nothing. */
  get stalled(): boolean {
    return this.mode !== 'healthy';
  }

  /**
   * The receiver answered (not 410, not retryable; `success`: 2xx). Ends a failing wait; a pause ends
   * only with a 2xx to its probe. Allocates nothing unless the state changes (runs per delivery).
   */
  answered(status: number, success: boolean): HealthAction | undefined {
    this.failStreak = 0;
    this.failingWaits = 0;
    if (this.mode === 'failing' || (this.mode === 'paused' && success && this.probing))
      return this.resume(`probe answered ${status}`);
    return undefined;
  }

  /** A retryable failure: FAILURES_TO_FAILING in a row mark the URL failing; a failed probe waits longer. */
  failed(retryAfterMs: number | undefined, nowMs: number): HealthAction | undefined {
    this.failStreak++;
    if (this.mode === 'failing') return this.probing ? this.fail(retryAfterMs, nowMs) : undefined;
    if (this.mode === 'paused' || this.failStreak < FAILURES_TO_FAILING) return undefined;
    return this.fail(retryAfterMs, nowMs);
  }

  /**
   * 410 Gone for the head of `key`. From the probe (or with no pause yet) it starts a pause; one from a
   * request already in flight when the pause began just waits for the same pause to end.
   */
  gone(key: string, nowMs: number): HealthAction | undefined {
    this.failStreak = 0;
    if (this.mode === 'paused' && !this.probing) return undefined;
    this.sinceMs = this.mode === 'paused' ? this.sinceMs : nowMs;
    this.wait('paused', nowMs + this.gonePauseMs);
    this.probeKey = key;
    return { kind: 'paused', untilMs: this.untilMs, pauseMs: this.gonePauseMs };
  }

  /** The timer of wait `epoch` fired. */
  waitOver(epoch: number): HealthAction | undefined {
    if (epoch !== this.epoch || this.mode === 'healthy') return undefined;
    this.probing = true;
    return { kind: 'probe', mode: this.mode };
  }

  /** A probe found nothing left to send: the URL has no backlog to be careful with. */
  nothingToProbe(): HealthAction | undefined {
    return this.resume('nothing left to send');
  }

  /** The operator resumes the URL now (`deliveries resume`): its wait ends, requests go out freely. */
  resumeNow(): HealthAction | undefined {
    return this.resume('resumed by the operator');
  }

  /** A pause saved before a restart, still in force; `probing` when it is over already. */
  restore(saved: SavedPause, probeKey: string, nowMs: number): void {
    this.wait('paused', saved.untilMs);
    this.probeKey = probeKey;
    this.sinceMs = saved.sinceMs ?? nowMs;
    this.probing = saved.untilMs <= nowMs;
  }

  /** What to save of a pause (undefined unless paused). */
  saved(): SavedPause | undefined {
    return this.mode === 'paused'
      ? { untilMs: this.untilMs, probeKey: this.probeKey, sinceMs: this.sinceMs }
      : undefined;
  }

  /** The first attempt time to count the age budget from: a pause so far spends none of it. */
  ageStart(firstAttemptAtMs: number, nowMs: number): number {
    return this.mode === 'paused' ? pausedAgeStart(firstAttemptAtMs, this.sinceMs, nowMs) : firstAttemptAtMs;
  }

  private fail(retryAfterMs: number | undefined, nowMs: number): HealthAction {
    const { policy } = this;
    this.failingWaits++;
    const backoff = Math.min(
      FAILING_WAIT_MAX_MS,
      policy.maxDelayMs,
      policy.baseDelayMs * 2 ** Math.min(this.failingWaits - 1, 30),
    );
    const waitMs = Math.max(backoff, Math.min(retryAfterMs ?? 0, policy.maxRetryAfterMs));
    this.wait('failing', nowMs + waitMs);
    this.probeKey = undefined;
    this.sinceMs = nowMs;
    return {
      kind: 'failing',
      untilMs: this.untilMs,
      waitMs,
      failuresInARow: this.failStreak,
      firstOfOutage: this.failingWaits === 1,
    };
  }

  private wait(mode: 'failing' | 'paused', untilMs: number): void {
    this.mode = mode;
    this.untilMs = untilMs;
    this.probing = false;
    this.epoch++;
  }

  private resume(why: string): HealthAction | undefined {
    if (this.mode === 'healthy') return undefined;
    const from = this.mode;
    this.mode = 'healthy';
    this.probing = false;
    this.probeKey = undefined;
    this.epoch++;
    return { kind: 'resumed', from, sinceMs: this.sinceMs, why };
  }
}

/** The first attempt time moved on by the time a pause begun at `sinceMs` has lasted since then. */
export function pausedAgeStart(firstAttemptAtMs: number, sinceMs: number, nowMs: number): number {
  return firstAttemptAtMs + Math.max(0, nowMs - Math.max(firstAttemptAtMs, sinceMs));
}
