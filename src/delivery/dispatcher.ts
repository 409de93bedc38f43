// Schedules deliveries from the outbox: per URL, events with the same order key go strictly one after
// another in enqueue (= commit) order, while different keys and different URLs proceed in parallel up
// to a per-URL concurrency limit. The outbox is the truth; this module only keeps ids in memory and
// records every outcome there before moving a key on.
//
// 410 Gone pauses the whole URL (not the event) for `gonePauseMs`: no request of any key goes to it
// meanwhile and its deliveries stay pending. When the pause ends, one probe goes out (the head of the
// key that got the 410), one at a time: a 2xx resumes the URL, another 410 pauses it again, any other
// outcome is handled as usual for that delivery while the rest of the URL keeps waiting. Pauses are
// kept in the outbox's meta table, so a restart does not hammer a gone receiver.

import type { Logger } from '../logger.js';
import { safeUrl } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Outbox, PendingRef } from '../outbox/outbox.js';
import { DeliveryStatus } from '../outbox/outbox.js';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import type { AttemptOutcome, BodyFormat, DeliveryAttempt } from './types.js';

export interface Sender {
  send(attempt: DeliveryAttempt): Promise<AttemptOutcome>;
}

export interface DispatcherOptions {
  readonly outbox: Outbox;
  readonly sender: Sender;
  readonly policy: RetryPolicy;
  readonly concurrencyPerUrl: number;
  readonly bodyFormatFor: (url: string) => BodyFormat;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** How long a URL that answered 410 Gone is paused before it is probed again (ms). */
  readonly gonePauseMs: number;
  readonly now?: () => number;
}

/** Outbox meta key of the persisted pauses: JSON { [url]: { untilMs, probeKey } }. */
export const GONE_PAUSES_META_KEY = 'gone_pauses';

interface GonePause {
  untilMs: number;
  /** Key whose head is the probe (the one that got the 410). */
  probeKey: string;
  /** The pause time is over: one probe at a time until a 2xx (resume) or a 410 (pause again). */
  probing: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface KeyQueue {
  readonly ids: number[];
  /** Head is in flight or waiting for its retry time. */
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface Endpoint {
  readonly url: string;
  readonly keys: Map<string, KeyQueue>;
  /** Keys whose head can be attempted now, FIFO. */
  readonly ready: string[];
  inFlight: number;
  /** Set while the URL is paused after a 410 Gone (until a probe gets a 2xx). */
  pause: GonePause | undefined;
}

export class Dispatcher {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;
  private pendingCount = 0;
  private stopping = false;

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads every pending delivery of the outbox (start-up) and starts sending. */
  start(): void {
    let n = 0;
    for (const ref of this.opts.outbox.pending()) {
      this.add(ref);
      n++;
    }
    this.opts.metrics.outboxDead.set(this.opts.outbox.counts().dead);
    this.restorePauses();
    this.opts.logger.info({ pending: n }, 'dispatcher started');
    for (const ep of this.endpoints.values()) this.pump(ep);
  }

  /** New deliveries just committed to the outbox. */
  enqueue(refs: readonly PendingRef[]): void {
    const touched = new Set<Endpoint>();
    for (const ref of refs) touched.add(this.add(ref));
    for (const ep of touched) this.pump(ep);
  }

  get pending(): number {
    return this.pendingCount;
  }

  /** URLs currently paused after a 410 Gone (including those being probed). */
  get pausedUrls(): string[] {
    return [...this.endpoints.values()].filter((ep) => ep.pause !== undefined).map((ep) => ep.url);
  }

  /** Stops starting attempts; waits up to `graceMs` for those in flight (the rest stay pending). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const ep of this.endpoints.values()) {
      for (const kq of ep.keys.values()) if (kq.timer) clearTimeout(kq.timer);
      if (ep.pause?.timer) clearTimeout(ep.pause.timer);
    }
    const all = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private add(ref: PendingRef): Endpoint {
    let ep = this.endpoints.get(ref.url);
    if (!ep) {
      ep = { url: ref.url, keys: new Map(), ready: [], inFlight: 0, pause: undefined };
      this.endpoints.set(ref.url, ep);
    }
    let kq = ep.keys.get(ref.orderKey);
    if (!kq) {
      kq = { ids: [], busy: false, timer: undefined };
      ep.keys.set(ref.orderKey, kq);
    }
    kq.ids.push(ref.id);
    this.pendingCount++;
    this.opts.metrics.outboxPending.set(this.pendingCount);
    if (!kq.busy && kq.ids.length === 1) ep.ready.push(ref.orderKey);
    return ep;
  }

  private pump(ep: Endpoint): void {
    if (this.stopping) return;
    if (ep.pause) {
      this.pumpProbe(ep, ep.pause);
      return;
    }
    while (ep.inFlight < this.opts.concurrencyPerUrl && ep.ready.length > 0) {
      const key = ep.ready.shift()!;
      const kq = ep.keys.get(key);
      const id = kq?.ids[0];
      if (!kq || kq.busy || id === undefined) continue;
      this.launch(ep, key, kq, id);
    }
  }

  /** A paused URL: nothing until the pause is over, then exactly one request at a time (the probe). */
  private pumpProbe(ep: Endpoint, pause: GonePause): void {
    if (!pause.probing || ep.inFlight > 0) return;
    let key = pause.probeKey;
    let kq = ep.keys.get(key);
    if (!kq) {
      // The probe key has nothing left (its head was dead-lettered): probe with another key's head.
      const next = ep.ready.find((k) => ep.keys.get(k)?.busy === false) ?? ep.keys.keys().next().value;
      if (next === undefined) {
        this.resume(ep, 'nothing left to send');
        this.pump(ep);
        return;
      }
      key = next;
      kq = ep.keys.get(key)!;
      pause.probeKey = key;
    }
    const id = kq.ids[0];
    // A busy probe key is in flight or waits for its retry time; its timer pumps again.
    if (kq.busy || id === undefined) return;
    for (let i = ep.ready.indexOf(key); i >= 0; i = ep.ready.indexOf(key)) ep.ready.splice(i, 1);
    this.launch(ep, key, kq, id);
  }

  private launch(ep: Endpoint, key: string, kq: KeyQueue, id: number): void {
    kq.busy = true;
    ep.inFlight++;
    const p = this.attempt(ep, key, kq, id)
      .catch((err: unknown) => {
        // The outbox failed under us (disk full, closed): leave the delivery pending for next start.
        this.opts.logger.error({ err, deliveryId: id }, 'delivery bookkeeping failed; will retry');
        this.retryLater(ep, key, kq, this.now() + 1000);
      })
      .finally(() => {
        ep.inFlight--;
        this.inFlight.delete(p);
        this.pump(ep);
      });
    this.inFlight.add(p);
  }

  private async attempt(ep: Endpoint, key: string, kq: KeyQueue, id: number): Promise<void> {
    const { outbox, sender, metrics, logger } = this.opts;
    const row = outbox.delivery(id);
    if (!row || row.status !== DeliveryStatus.pending) {
      this.advance(ep, key, kq);
      return;
    }
    const startedAt = this.now();
    if (row.nextAttemptAtMs > startedAt) {
      this.retryLater(ep, key, kq, row.nextAttemptAtMs);
      return;
    }
    const outcome = await sender.send({
      url: row.url,
      eventId: row.eventId,
      eventName: row.eventName,
      occurredAtMs: row.occurredAtMs,
      body: row.body,
      bodyFormat: this.opts.bodyFormatFor(row.url),
      attempt: row.attempts + 1,
    });
    const attempts = row.attempts + 1;
    const log = { deliveryId: id, eventId: row.eventId, event: row.eventName, url: safeUrl(row.url), attempt: attempts };
    if (outcome.kind === 'delivered') {
      outbox.markDelivered(id, outcome.status, startedAt);
      metrics.observeDeliveryAttempt('delivered', outcome.durationMs);
      logger.debug({ ...log, status: outcome.status, body: row.body }, 'delivered');
      if (ep.pause?.probing) this.resume(ep, `probe answered ${outcome.status}`);
      this.advance(ep, key, kq);
      return;
    }
    if (outcome.kind === 'gone') {
      // A 410 from the probe (or with no pause yet) starts a pause; one from a request that was
      // already in flight when the pause began just waits for the same pause to end.
      if (!ep.pause || ep.pause.probing) this.pauseUrl(ep, key, log);
      const untilMs = ep.pause!.untilMs;
      outbox.markRetry(id, untilMs, outcome.status, `${outcome.error.code}: ${outcome.error.message}; URL paused, event kept`, startedAt);
      metrics.observeDeliveryAttempt('gone', outcome.durationMs);
      // The head stays at the front of its key; the key waits in `ready` until the URL resumes.
      kq.busy = false;
      ep.ready.push(key);
      return;
    }
    const status = outcome.status ?? null;
    if (outcome.kind === 'retry') {
      const decision = nextAttemptAt({
        policy: this.opts.policy,
        attempt: attempts,
        firstAttemptAtMs: row.firstAttemptAtMs ?? startedAt,
        nowMs: this.now(),
        retryAfterMs: outcome.retryAfterMs,
      });
      if (decision.kind === 'retry') {
        outbox.markRetry(id, decision.atMs, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt);
        metrics.observeDeliveryAttempt('retry', outcome.durationMs);
        logger.warn({ ...log, status, code: outcome.error.code, error: outcome.error.message, retryInMs: decision.atMs - this.now() }, 'delivery failed; will retry');
        this.retryLater(ep, key, kq, decision.atMs);
        return;
      }
      const reason = `UCW_ERR_DELIVERY_EXHAUSTED: retry budget spent (${decision.reason}); last error ${outcome.error.code}: ${outcome.error.message}`;
      this.deadLetter(id, status, reason, startedAt, outcome.durationMs, log);
    } else {
      this.deadLetter(id, status, `${outcome.error.code}: ${outcome.error.message}`, startedAt, outcome.durationMs, log);
    }
    this.advance(ep, key, kq);
  }

  private deadLetter(id: number, status: number | null, reason: string, startedAt: number, durationMs: number, log: Record<string, unknown>): void {
    this.opts.outbox.markDead(id, status, reason, startedAt);
    this.opts.metrics.observeDeliveryAttempt('dead', durationMs);
    this.opts.metrics.outboxDead.inc();
    this.opts.logger.error({ ...log, status, code: reason.split(':')[0], error: reason }, 'delivery dead-lettered (kept in the outbox)');
  }

  private pauseUrl(ep: Endpoint, key: string, log: Record<string, unknown>): void {
    const pauseMs = this.opts.gonePauseMs;
    const untilMs = this.now() + pauseMs;
    if (ep.pause?.timer) clearTimeout(ep.pause.timer);
    const pause: GonePause = { untilMs, probeKey: key, probing: false, timer: undefined };
    ep.pause = pause;
    this.schedulePauseEnd(ep, pause);
    this.opts.metrics.urlsPaused.set(this.pausedUrls.length);
    this.savePauses();
    this.opts.logger.error(
      { ...log, status: 410, code: 'UCW_ERR_DELIVERY_GONE', pausedForMs: pauseMs, pausedUntil: new Date(untilMs).toISOString(), pendingForUrl: pendingOf(ep) },
      `receiver answered 410 Gone; URL paused for ${formatSeconds(pauseMs)} s; events kept`,
    );
  }

  private schedulePauseEnd(ep: Endpoint, pause: GonePause): void {
    if (this.stopping) return;
    pause.timer = setTimeout(() => {
      pause.timer = undefined;
      if (ep.pause !== pause) return;
      pause.probing = true;
      this.opts.logger.info({ url: safeUrl(ep.url), pendingForUrl: pendingOf(ep) }, '410 Gone pause over; probing the URL with one delivery');
      this.pump(ep);
    }, Math.max(0, pause.untilMs - this.now()));
    pause.timer.unref();
  }

  private resume(ep: Endpoint, why: string): void {
    if (!ep.pause) return;
    if (ep.pause.timer) clearTimeout(ep.pause.timer);
    ep.pause = undefined;
    this.opts.metrics.urlsPaused.set(this.pausedUrls.length);
    this.savePauses();
    this.opts.logger.info({ url: safeUrl(ep.url), pendingForUrl: pendingOf(ep), reason: why }, 'URL resumed after 410 Gone pause');
  }

  private savePauses(): void {
    const saved: Record<string, { untilMs: number; probeKey: string }> = {};
    for (const ep of this.endpoints.values()) if (ep.pause) saved[ep.url] = { untilMs: ep.pause.untilMs, probeKey: ep.pause.probeKey };
    try {
      this.opts.outbox.setMeta(GONE_PAUSES_META_KEY, JSON.stringify(saved));
    } catch (err) {
      // Only costs an early probe after a restart; the pause itself holds in memory.
      this.opts.logger.warn({ err }, 'cannot save the 410 Gone pauses');
    }
  }

  /** Pauses from before a restart: still in force for URLs that have pending deliveries. */
  private restorePauses(): void {
    let saved: Record<string, { untilMs?: unknown; probeKey?: unknown }> = {};
    try {
      const raw = this.opts.outbox.getMeta(GONE_PAUSES_META_KEY);
      if (raw !== undefined) saved = JSON.parse(raw) as typeof saved;
    } catch (err) {
      this.opts.logger.warn({ err }, 'cannot read the saved 410 Gone pauses; ignoring them');
    }
    for (const [url, p] of Object.entries(saved)) {
      const ep = this.endpoints.get(url);
      if (!ep || typeof p.untilMs !== 'number') continue;
      const probeKey = typeof p.probeKey === 'string' && ep.keys.has(p.probeKey) ? p.probeKey : ep.keys.keys().next().value;
      if (probeKey === undefined) continue;
      const pause: GonePause = { untilMs: p.untilMs, probeKey, probing: p.untilMs <= this.now(), timer: undefined };
      ep.pause = pause;
      if (!pause.probing) this.schedulePauseEnd(ep, pause);
      this.opts.logger.warn(
        { url: safeUrl(url), code: 'UCW_ERR_DELIVERY_GONE', pausedUntil: new Date(p.untilMs).toISOString(), pendingForUrl: pendingOf(ep) },
        'URL still paused after a 410 Gone from before the restart; events kept',
      );
    }
    this.opts.metrics.urlsPaused.set(this.pausedUrls.length);
    this.savePauses();
  }

  /** The head is finished (delivered, dead, or gone): the key moves to its next delivery. */
  private advance(ep: Endpoint, key: string, kq: KeyQueue): void {
    kq.ids.shift();
    kq.busy = false;
    this.pendingCount--;
    this.opts.metrics.outboxPending.set(this.pendingCount);
    if (kq.ids.length > 0) ep.ready.push(key);
    else ep.keys.delete(key);
  }

  /** The head stays at the front of its key (order), and becomes ready again at `atMs`. */
  private retryLater(ep: Endpoint, key: string, kq: KeyQueue, atMs: number): void {
    kq.busy = true;
    if (this.stopping) return;
    kq.timer = setTimeout(() => {
      kq.timer = undefined;
      kq.busy = false;
      ep.ready.push(key);
      this.pump(ep);
    }, Math.max(0, atMs - this.now()));
    kq.timer.unref();
  }
}

function pendingOf(ep: Endpoint): number {
  let n = 0;
  for (const kq of ep.keys.values()) n += kq.ids.length;
  return n;
}

/** Seconds for a log message: whole seconds as such, shorter pauses (tests) with up to 3 decimals. */
function formatSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}
