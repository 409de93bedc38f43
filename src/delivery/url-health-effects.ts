// Carries out what the URL health state machine (url-health.ts) decides: arms and clears the wait
// timer, takes back what the sender queued, tells the flow window a URL drains no more, sets the
// gauges, saves pauses, moves age budgets on after a pause, and logs. Invariant: a URL has at most one
// wait timer, and only the current wait's timer acts (older ones are stale by epoch).

import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, StateStore } from '../outbox/state-store.js';
import type { SafeTimer } from '../safe-timer.js';
import { safeUrl } from '../safe-url.js';
import type { Clock } from './clock.js';
import { logHealthAction } from './delivery-log.js';
import type { FlowWindow, UrlWindow } from './flow-window.js';
import type { KeyQueues } from './key-queues.js';
import type { PauseStore, SavedPause } from './pause-store.js';
import type { Sender } from './sender.js';
import { pausedAgeStart, type HealthAction, type UrlHealth } from './url-health.js';

/** The parts of a URL's state the effects touch. */
export interface HealthSubject {
  readonly url: string;
  readonly health: UrlHealth;
  readonly win: UrlWindow;
  readonly queues: KeyQueues;
  waitTimer: SafeTimer | undefined;
}

export interface UrlHealthEffectsOptions<T extends HealthSubject> {
  readonly clock: Clock;
  readonly sender: Pick<Sender, 'cancelQueued'>;
  readonly window: FlowWindow;
  readonly outbox: Pick<StateStore, 'shiftFirstAttempts'>;
  readonly pauses: PauseStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Every URL's state (for the gauges and the saved pauses). */
  readonly subjects: ReadonlyMap<string, T>;
  /** The wait of `subject` is over: send its probe. */
  readonly probe: (subject: T) => void;
}

export class UrlHealthEffects<T extends HealthSubject> {
  private stopped = false;

  constructor(private readonly opts: UrlHealthEffectsOptions<T>) {}

  /** `d`: the delivery whose outcome caused `action` (the 410'd one of a pause). */
  apply(s: T, action: HealthAction | undefined, d?: Delivery): void {
    if (!action) return;
    const { window, sender } = this.opts;
    if (action.kind === 'failing' || action.kind === 'paused') {
      s.waitTimer?.clear();
      s.waitTimer = this.stopped ? undefined : this.waitUntil(s, action.untilMs);
      sender.cancelQueued(s.url);
      window.setStalled(s.win, true);
    } else if (action.kind === 'resumed') {
      s.waitTimer?.clear();
      s.waitTimer = undefined;
      window.setStalled(s.win, false);
      if (action.from === 'paused') this.resumeAges(s, action.sinceMs);
    }
    if (action.kind !== 'probe') {
      const pausesChanged = action.kind === 'paused' || (action.kind === 'resumed' && action.from === 'paused');
      this.gauges(pausesChanged);
    }
    logHealthAction(this.opts.logger, action, s.url, s.win.pending, d);
    if (action.kind === 'probe') this.opts.probe(s);
  }

  /** Pauses from before a restart: still in force for URLs that have pending deliveries. */
  restore(): void {
    const now = this.opts.clock.now();
    for (const [url, saved] of this.opts.pauses.load()) {
      const s = this.opts.subjects.get(url);
      if (!s) continue;
      const keys = s.queues.keys;
      const probeKey = saved.probeKey !== undefined && keys.has(saved.probeKey) ? saved.probeKey : firstKey(keys);
      if (probeKey === undefined) continue;
      s.health.restore(saved, probeKey, now);
      this.opts.window.setStalled(s.win, true);
      if (!s.health.probing) s.waitTimer = this.waitUntil(s, saved.untilMs);
      this.opts.logger.warn(
        {
          url: safeUrl(url),
          code: 'UCW_ERR_DELIVERY_GONE' satisfies ErrorCode,
          pausedUntil: new Date(saved.untilMs).toISOString(),
          pendingForUrl: s.win.pending,
        },
        'URL still paused after a 410 Gone from before the restart; events kept',
      );
    }
    this.gauges(true);
  }

  /** Shutdown: no wait timer runs or is armed any more. */
  stop(): void {
    this.stopped = true;
    for (const s of this.opts.subjects.values()) s.waitTimer?.clear();
  }

  private waitUntil(s: T, untilMs: number): SafeTimer {
    const epoch = s.health.epoch;
    return this.opts.clock.setTimeout(() => {
      s.waitTimer = undefined;
      this.apply(s, s.health.waitOver(epoch));
    }, untilMs - this.opts.clock.now());
  }

  /** The age budget of every delivery of the URL resumes where the pause stopped it (memory and store). */
  private resumeAges(s: T, sinceMs: number): void {
    const now = this.opts.clock.now();
    try {
      this.opts.outbox.shiftFirstAttempts(s.url, sinceMs, now);
    } catch (err) {
      // Only costs age budget: a delivery may be dead-lettered sooner after the pause.
      this.opts.logger.warn({ err, url: safeUrl(s.url) }, 'cannot save the age budget kept through the 410 Gone pause');
    }
    for (const d of s.queues.deliveries()) {
      if (d.firstAttemptAtMs !== null) d.firstAttemptAtMs = pausedAgeStart(d.firstAttemptAtMs, sinceMs, now);
    }
  }

  /** Sets ucw_urls_failing and ucw_urls_paused; `save`: the pauses changed and are saved. */
  private gauges(save: boolean): void {
    let failing = 0;
    const paused = new Map<string, SavedPause>();
    for (const s of this.opts.subjects.values()) {
      if (s.health.mode === 'failing') failing++;
      const p = s.health.saved();
      if (p) paused.set(s.url, p);
    }
    this.opts.metrics.urlsFailing.set(failing);
    this.opts.metrics.urlsPaused.set(paused.size);
    if (save) this.opts.pauses.save(paused);
  }
}

function firstKey(keys: ReadonlyMap<string, unknown>): string | undefined {
  for (const key of keys.keys()) return key;
  return undefined;
}
