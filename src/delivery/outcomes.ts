// Records the outcome of one attempt: writes it to the state store, counts and logs it, feeds the
// URL's health state machine, and says what becomes of the delivery. Invariant: the store holds the
// outcome before the scheduler moves the delivery's key on.

import type { ErrorCode, WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, StateStore } from '../outbox/state-store.js';
import { deliveryFields } from './delivery-log.js';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import type { AttemptError, AttemptOutcome } from './types.js';
import type { HealthAction, UrlHealth } from './url-health.js';

/** Log code of cancelled deliveries (a registration removed, a backlog discarded). */
export const CANCELLED = 'UCW_WARN_DELIVERY_CANCELLED' satisfies WarningCode;

/** What an outcome is recorded against: a URL, its health, the ids to cancel unless delivered. */
export interface OutcomeTarget {
  readonly url: string;
  readonly health: UrlHealth;
  readonly cancelOnFailure: Set<number> | undefined;
  /** The URL's own retry budget (its receivers entry); undefined: the recorder's policy. */
  readonly policy?: RetryPolicy | undefined;
}

/**
 * `finished`: delivered, dead-lettered or cancelled (it leaves its key); `stays`: unsent, or a 410
 * (it waits in line, unchanged, for the URL to resume); a number: retried at that time (ms).
 */
export type Settled = 'finished' | 'stays' | number;

export interface OutcomeRecorderOptions<T extends OutcomeTarget> {
  readonly outbox: StateStore;
  readonly policy: RetryPolicy;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The URL's health changed: `d` is the delivery whose outcome changed it. */
  readonly onHealth: (target: T, action: HealthAction, d: Delivery) => void;
}

export class OutcomeRecorder<T extends OutcomeTarget> {
  private readonly debug: boolean;

  constructor(private readonly opts: OutcomeRecorderOptions<T>) {
    this.debug = opts.logger.isLevelEnabled('debug');
  }

  /** `startedAt`: when the attempt started; `now`: when its outcome came. */
  record(t: T, d: Delivery, startedAt: number, now: number, outcome: AttemptOutcome): Settled {
    const { outbox, metrics, logger } = this.opts;
    if (t.cancelOnFailure?.delete(d.id) && outcome.kind !== 'delivered') {
      // Its registration was removed while it was in flight (or queued in a chain): not sent again.
      outbox.markCancelled(d.id, `${CANCELLED}: registration removed before delivery`);
      metrics.deliveriesCancelled.inc();
      return 'finished';
    }
    // Never sent (the URL stopped sending meanwhile, a delivery before it in its chain was not
    // delivered, or the bridge stops): it stays in line, unchanged.
    if (outcome.kind === 'unsent') return 'stays';
    if (outcome.kind === 'gone') {
      // Spends no retry budget: neither an attempt nor, while paused, age.
      const action = t.health.gone(d.orderKey, now);
      d.nextAttemptAtMs = t.health.untilMs;
      const error = `${outcome.error.code}: ${outcome.error.message}; URL paused, event kept`;
      outbox.markGone(d.id, d.nextAttemptAtMs, outcome.status, error);
      metrics.observeDeliveryAttempt('gone', outcome.durationMs);
      if (action) this.opts.onHealth(t, action, d);
      return 'stays';
    }
    d.attempts++;
    d.firstAttemptAtMs ??= startedAt;
    if (outcome.kind === 'delivered') {
      outbox.markDelivered(d.id, t.url, outcome.status, startedAt);
      metrics.observeDeliveryAttempt('delivered', outcome.durationMs);
      metrics.observeDeliveryLatency(t.url, now - d.committedAtMs);
      if (this.debug) logger.debug({ ...deliveryFields(t.url, d), status: outcome.status, body: d.body }, 'delivered');
      this.health(t, t.health.answered(outcome.status, true), d);
      return 'finished';
    }
    const status = outcome.status ?? null;
    if (outcome.kind === 'dead') {
      // An HTTP answer (4xx, 3xx) shows the receiver is there; a refusal before sending shows nothing.
      if (status !== null) this.health(t, t.health.answered(status, false), d);
      this.deadLetter(t, d, status, outcome.error, startedAt, outcome.durationMs);
      return 'finished';
    }
    const decision = nextAttemptAt({
      policy: t.policy ?? this.opts.policy,
      attempt: d.attempts,
      firstAttemptAtMs: t.health.ageStart(d.firstAttemptAtMs, now),
      nowMs: now,
      retryAfterMs: outcome.retryAfterMs,
    });
    this.health(t, t.health.failed(outcome.retryAfterMs, now), d);
    if (decision.kind === 'exhausted') {
      const exhausted: AttemptError = {
        code: 'UCW_ERR_DELIVERY_EXHAUSTED' satisfies ErrorCode,
        message: `retry budget spent (${decision.reason}); last error ${outcome.error.code}: ${outcome.error.message}`,
      };
      this.deadLetter(t, d, status, exhausted, startedAt, outcome.durationMs);
      return 'finished';
    }
    d.nextAttemptAtMs = decision.atMs;
    outbox.markRetry(d.id, decision.atMs, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt);
    metrics.observeDeliveryAttempt('retry', outcome.durationMs);
    logger.warn(
      {
        ...deliveryFields(t.url, d),
        status,
        code: outcome.error.code,
        error: outcome.error.message,
        retryInMs: decision.atMs - now,
      },
      'delivery failed; will retry',
    );
    return decision.atMs;
  }

  private health(t: T, action: HealthAction | undefined, d: Delivery): void {
    if (action) this.opts.onHealth(t, action, d);
  }

  private deadLetter(t: T, d: Delivery, status: number | null, err: AttemptError, startedAt: number, ms: number): void {
    const reason = `${err.code}: ${err.message}`;
    this.opts.outbox.markDead(d.id, status, reason, startedAt);
    this.opts.metrics.observeDeliveryAttempt('dead', ms);
    this.opts.metrics.outboxDead.inc();
    this.opts.logger.error(
      { ...deliveryFields(t.url, d), status, code: err.code, error: reason },
      'delivery dead-lettered (kept in the outbox)',
    );
  }
}
