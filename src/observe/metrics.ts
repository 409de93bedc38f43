// Prometheus instruments of the bridge, on a registry this instance owns (never prom-client's global
// one, so several bridges or tests in one process do not collide). The only module importing
// prom-client. Invariant: no label carries free text from a receiver, and a URL only as safeUrl()
// gives it (no user info, no query string: those may embed tokens) and only while it is registered or
// has deliveries pending (so removed URLs leave the scrape), or for the few URLs a receivers entry
// rate-limits; other labels are table names, event names, outcomes and rule names.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { safeUrl } from '../safe-url.js';

const METRIC_PREFIX = 'ucw_';

/** Delivery latency buckets, seconds: 1 ms (local receiver) up to 10 s (a slow one near timeout). */
const DELIVERY_DURATION_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Commit-to-2xx latency buckets, seconds: 10 ms (a live change to a near receiver; the binlog's time
 * has whole seconds, so a value under 1 s reads up to 1 s high) up to 1 h (a backlog after an outage).
 */
export const DELIVERY_LATENCY_BUCKETS_SECONDS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

/** What the per-URL metrics are about, read at scrape time. */
export interface UrlSource {
  /** URLs registered now. */
  registered(): Iterable<string>;
  /** Per URL with pending deliveries: the binlog commit time (epoch ms) of its oldest one. */
  oldestPending(): ReadonlyMap<string, number>;
}

/** `gone`: the receiver answered 410 Gone; the URL is paused and the delivery stays pending. */
export type DeliveryOutcomeLabel = 'delivered' | 'retry' | 'dead' | 'gone';

export class Metrics {
  readonly registry: Registry;
  readonly contentType: string;

  /** Row changes received on watched tables, by `schema.table`. */
  readonly sourceRowChanges: Counter<'table'>;
  readonly sourceTransactions: Counter;
  /** 1 while the binlog stream is connected, else 0. */
  readonly sourceConnected: Gauge;
  /**
   * Seconds between now and the binlog timestamp of the last committed transaction. Computed at
   * scrape time from `observeSourceCommit`, so it keeps growing while the stream is stuck (and
   * also while the source is simply idle: read it together with `ucw_source_connected`). 0 until
   * the first commit.
   */
  readonly sourceLagSeconds: Gauge;
  readonly sourceReconnects: Counter;
  /** Events produced by the rules, by event name. */
  readonly events: Counter<'event'>;
  /** Deliveries enqueued (one per event and registered URL), by event name. */
  readonly eventsEnqueued: Counter<'event'>;
  /** Finished delivery attempts, by outcome (delivered | retry | dead | gone). */
  readonly deliveries: Counter<'outcome'>;
  readonly deliveryDurationSeconds: Histogram;
  readonly outboxPending: Gauge;
  readonly outboxDead: Gauge;
  /** URLs paused after a 410 Gone (their deliveries wait), until a probe gets a 2xx. */
  readonly urlsPaused: Gauge;
  /** URLs held after FAILURES_TO_HOLD retryable failures in a row (one probe at a time). */
  readonly urlsFailing: Gauge;
  /** Registered (non-empty) webhook URLs across all events. */
  readonly registryUrls: Gauge;
  /** 1 while binlog reading waits for the outbox to drain below --max-outbox-pending. */
  readonly sourcePaused: Gauge;
  /** Rule evaluations that threw (the row change is skipped for that rule), by rule name. */
  readonly ruleErrors: Counter<'rule'>;
  /** Pending deliveries cancelled: their registration was removed, or their URL's backlog discarded. */
  readonly deliveriesCancelled: Counter;
  /** Dead and cancelled rows deleted because more than --max-dead-rows were kept, by former state. */
  readonly deadRowsPruned: Counter<'state'>;
  /** Bytes the outbox store's data takes; reading pauses at --max-outbox-bytes. */
  readonly outboxBytes: Gauge;
  /** Binlog bytes from the checkpoint to the server's head, sampled every ~30 s (NaN until known). */
  readonly sourceLagBytes: Gauge;
  /** Seconds until the server may purge binlog the checkpoint needs (+Inf: nothing purges it; NaN: unknown). */
  readonly binlogRetentionHeadroomSeconds: Gauge;

  /** --max-outbox-bytes, so that an alert can compare `ucw_outbox_bytes` with it. */
  readonly outboxMaxBytes: Gauge;
  /** Seconds from the source commit to the receiver's 2xx, per delivered event, by safeUrl(url). */
  readonly deliveryLatencySeconds: Histogram<'url'>;
  /** Seconds since the source commit of each URL's oldest pending delivery; 0 for a registered URL with none. */
  readonly oldestPendingAgeSeconds: Gauge<'url'>;
  /** Seconds during which deliveries of a rate-limited URL were held back by its limit, by safeUrl(url). */
  readonly rateLimitWaitSeconds: Counter<'url'>;

  private lastCommitTimestampMs: number | undefined;
  private urlSource: UrlSource | undefined;
  /** The oldest pending commits read once for the scrape under way (render()). */
  private scrapeOldest: ReadonlyMap<string, number> | undefined;
  /** Latency histogram children by raw URL (safeUrl() per delivery showed nowhere, but costs a URL parse). */
  private readonly latencyByUrl = new Map<string, Histogram.Internal<'url'>>();

  constructor(opts: { now?: () => number } = {}) {
    const now = opts.now ?? Date.now;
    this.registry = new Registry();
    this.contentType = this.registry.contentType;
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    const registers = [this.registry];

    this.sourceRowChanges = new Counter({
      name: 'ucw_source_row_changes_total',
      help: 'Row changes read from the binlog on watched tables',
      labelNames: ['table'] as const,
      registers,
    });
    this.sourceTransactions = new Counter({
      name: 'ucw_source_transactions_total',
      help: 'Source transactions committed and processed',
      registers,
    });
    this.sourceConnected = new Gauge({
      name: 'ucw_source_connected',
      help: '1 when the binlog stream is connected, 0 otherwise',
      registers,
    });
    // Arrow function keeps `this` bound to the Metrics instance, not the gauge.
    const getLastCommit = (): number | undefined => this.lastCommitTimestampMs;
    this.sourceLagSeconds = new Gauge({
      name: 'ucw_source_lag_seconds',
      help: 'Seconds between now and the binlog timestamp of the last committed source transaction',
      registers,
      collect() {
        const last = getLastCommit();
        // Clock skew between hosts can make the difference negative; a negative lag means nothing.
        if (last !== undefined) this.set(Math.max(0, (now() - last) / 1000));
      },
    });
    this.sourceReconnects = new Counter({
      name: 'ucw_source_reconnects_total',
      help: 'Reconnections of the binlog stream after a failure',
      registers,
    });
    this.events = new Counter({
      name: 'ucw_events_total',
      help: 'Webhook events produced from row changes',
      labelNames: ['event'] as const,
      registers,
    });
    this.eventsEnqueued = new Counter({
      name: 'ucw_events_enqueued_total',
      help: 'Deliveries enqueued in the outbox (events x registered URLs)',
      labelNames: ['event'] as const,
      registers,
    });
    this.deliveries = new Counter({
      name: 'ucw_deliveries_total',
      help: 'Finished delivery attempts by outcome (delivered, retry, dead, gone)',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.deliveryDurationSeconds = new Histogram({
      name: 'ucw_delivery_duration_seconds',
      help: 'Duration of one HTTP delivery attempt in seconds',
      buckets: DELIVERY_DURATION_BUCKETS_SECONDS,
      registers,
    });
    const getPending = (): number | undefined => this.pendingProvider?.();
    this.outboxPending = new Gauge({
      name: 'ucw_outbox_pending',
      help: 'Deliveries waiting in the outbox',
      registers,
      collect() {
        const pending = getPending();
        if (pending !== undefined) this.set(pending);
      },
    });
    this.outboxDead = new Gauge({
      name: 'ucw_outbox_dead',
      help: 'Dead-lettered deliveries kept in the outbox',
      registers,
    });
    this.urlsPaused = new Gauge({
      name: 'ucw_urls_paused',
      help: 'Webhook URLs paused after answering 410 Gone (their deliveries stay pending)',
      registers,
    });
    this.urlsFailing = new Gauge({
      name: 'ucw_urls_failing',
      help: 'Webhook URLs held after retryable failures in a row (probed with one delivery at a time)',
      registers,
    });
    this.sourcePaused = new Gauge({
      name: 'ucw_source_paused',
      help: '1 while binlog reading is paused because the outbox holds --max-outbox-pending deliveries',
      registers,
    });
    this.registryUrls = new Gauge({
      name: 'ucw_registry_urls',
      help: 'Registered webhook URLs across all events',
      registers,
    });
    this.ruleErrors = new Counter({
      name: 'ucw_rule_errors_total',
      help: 'Rule evaluations that failed, by rule name',
      labelNames: ['rule'] as const,
      registers,
    });

    this.deliveriesCancelled = new Counter({
      name: 'ucw_deliveries_cancelled_total',
      help:
        'Pending deliveries cancelled (registration removed or ' +
        'URL changed); kept in the outbox with status cancelled',
      registers,
    });
    this.deadRowsPruned = new Counter({
      name: 'ucw_dead_rows_pruned_total',
      help: 'Dead and cancelled deliveries deleted (oldest first) because more than --max-dead-rows were kept',
      labelNames: ['state'] as const,
      registers,
    });
    this.outboxBytes = new Gauge({
      name: 'ucw_outbox_bytes',
      help: 'Bytes the outbox store data takes; binlog reading pauses at --max-outbox-bytes',
      registers,
    });
    // NaN until the first sample: an alert comparing them is neither true nor false before it.
    this.sourceLagBytes = new Gauge({
      name: 'ucw_source_lag_bytes',
      help: 'Binlog bytes between the checkpoint and the source server head (sampled every ~30 s)',
      registers,
    });
    this.binlogRetentionHeadroomSeconds = new Gauge({
      name: 'ucw_binlog_retention_headroom_seconds',
      help: 'Seconds until the source server may purge the binlog the checkpoint needs (+Inf: no automatic purge)',
      registers,
    });
    this.sourceLagBytes.set(Number.NaN);
    this.binlogRetentionHeadroomSeconds.set(Number.NaN);

    this.outboxMaxBytes = new Gauge({
      name: 'ucw_outbox_max_bytes',
      help: 'The --max-outbox-bytes budget: binlog reading pauses when ucw_outbox_bytes reaches it',
      registers,
    });
    const urlsNow = (): UrlSource | undefined => this.urlSource;
    const oldestNow = (source: UrlSource): ReadonlyMap<string, number> => this.scrapeOldest ?? source.oldestPending();
    const pruneLatency = (labels: ReadonlySet<string>): void => this.pruneLatency(labels);
    this.deliveryLatencySeconds = new Histogram({
      name: 'ucw_delivery_latency_seconds',
      help: 'Seconds from the source transaction commit (binlog time) to the receiver 2xx, by URL',
      labelNames: ['url'] as const,
      buckets: DELIVERY_LATENCY_BUCKETS_SECONDS,
      registers,
      collect() {
        const source = urlsNow();
        if (source) pruneLatency(new Set(labelledUrls(source, oldestNow(source), now).keys()));
      },
    });
    this.oldestPendingAgeSeconds = new Gauge({
      name: 'ucw_oldest_pending_age_seconds',
      help: 'Seconds since the source commit of the oldest pending delivery, by URL (0: none pending)',
      labelNames: ['url'] as const,
      registers,
      collect() {
        const source = urlsNow();
        if (!source) return;
        this.reset();
        for (const [url, age] of labelledUrls(source, oldestNow(source), now)) this.set({ url }, age);
      },
    });

    const rateWaits = (): Iterable<readonly [string, number]> => this.rateWaitProvider?.() ?? [];
    const rateWaitChild = (url: string): { child: Counter.Internal; reportedMs: number } => this.rateWaitChild(url);
    this.rateLimitWaitSeconds = new Counter({
      name: 'ucw_rate_limit_wait_seconds_total',
      help: 'Seconds during which deliveries of a rate-limited URL (receivers entry rateLimitPerSecond) were held back',
      labelNames: ['url'] as const,
      registers,
      collect() {
        // Read at scrape time: the scheduler keeps the running total per URL; the counter gets the growth.
        for (const [url, ms] of rateWaits()) {
          const c = rateWaitChild(url);
          if (ms > c.reportedMs) c.child.inc((ms - c.reportedMs) / 1000);
          c.reportedMs = Math.max(c.reportedMs, ms);
        }
      },
    });

    // Start at 0 rather than absent so dashboards and alerts see "disconnected" before the first connect.
    this.sourceConnected.set(0);
    this.urlsPaused.set(0);
    this.urlsFailing.set(0);
    this.deliveriesByOutcome = {
      delivered: this.deliveries.labels('delivered'),
      retry: this.deliveries.labels('retry'),
      dead: this.deliveries.labels('dead'),
      gone: this.deliveries.labels('gone'),
    };
  }

  /** Counter children bound once: resolving labels per attempt showed up in the delivery profile. */
  private readonly deliveriesByOutcome: Record<DeliveryOutcomeLabel, Counter.Internal>;
  private pendingProvider: (() => number) | undefined;
  private readonly labelled = new Map<Counter<'table'> | Counter<'event'>, Map<string, Counter.Internal>>();

  /** `counter.labels(value)`, cached: for the per-row and per-event counters of the hot path. */
  child(counter: Counter<'table'> | Counter<'event'>, value: string): Counter.Internal {
    let children = this.labelled.get(counter);
    if (!children) {
      children = new Map();
      this.labelled.set(counter, children);
    }
    let c = children.get(value);
    if (!c) {
      c = counter.labels(value);
      children.set(value, c);
    }
    return c;
  }

  /** Records the binlog timestamp (epoch ms) of a committed transaction; drives `ucw_source_lag_seconds`. */
  /**
   * Reads `ucw_outbox_pending` from `count` at scrape time (the dispatcher's count changes per
   * delivery; setting the gauge each time showed up in the catch-up profile).
   */
  countPendingWith(count: () => number): void {
    this.pendingProvider = count;
  }

  observeSourceCommit(timestampMs: number): void {
    this.lastCommitTimestampMs = timestampMs;
  }

  /** Counts one finished delivery attempt and records its duration (given in ms, stored in seconds). */
  observeDeliveryAttempt(outcome: DeliveryOutcomeLabel, durationMs: number): void {
    this.deliveriesByOutcome[outcome].inc();
    this.deliveryDurationSeconds.observe(durationMs / 1000);
  }

  /** Reads the per-URL gauges and bounds the per-URL series from `source` at each scrape. */
  trackUrls(source: UrlSource): void {
    this.urlSource = source;
  }

  /** Records one delivered event: `latencyMs` from its source commit to the 2xx. */
  observeDeliveryLatency(url: string, latencyMs: number): void {
    let h = this.latencyByUrl.get(url);
    if (!h) {
      h = this.deliveryLatencySeconds.labels(safeUrl(url));
      this.latencyByUrl.set(url, h);
    }
    // Clock skew between the source and this host can make it negative; it means "no time".
    h.observe(Math.max(0, latencyMs) / 1000);
  }

  /** Drops the latency series of URLs no longer registered nor pending (bounded label set). */
  private pruneLatency(labels: ReadonlySet<string>): void {
    for (const url of this.latencyByUrl.keys()) {
      const label = safeUrl(url);
      if (labels.has(label)) continue;
      this.latencyByUrl.delete(url);
      this.deliveryLatencySeconds.remove(label);
    }
  }

  /**
   * Reads each rate-limited URL's running total of held-back time (ms) at scrape time for
   * `ucw_rate_limit_wait_seconds_total`, labelled with the URL without query or user info.
   */
  countRateLimitWaitWith(provider: () => Iterable<readonly [string, number]>): void {
    this.rateWaitProvider = provider;
  }

  private rateWaitProvider: (() => Iterable<readonly [string, number]>) | undefined;
  private readonly rateWaitByUrl = new Map<string, { child: Counter.Internal; reportedMs: number }>();

  private rateWaitChild(url: string): { child: Counter.Internal; reportedMs: number } {
    let c = this.rateWaitByUrl.get(url);
    if (!c) {
      c = { child: this.rateLimitWaitSeconds.labels(safeUrl(url)), reportedMs: 0 };
      this.rateWaitByUrl.set(url, c);
    }
    return c;
  }

  /** The Prometheus text exposition of every instrument of this instance. */
  async render(): Promise<string> {
    // Both per-URL metrics read the scheduler's queues: once per scrape.
    this.scrapeOldest = this.urlSource?.oldestPending();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrapeOldest = undefined;
    }
  }
}

/**
 * The URL labels of a scrape, each with its oldest pending age in seconds: every registered URL (0
 * when nothing is pending) and every URL with pending deliveries. URLs equal once safeUrl() drops
 * their query string share a label and report the older age.
 */
function labelledUrls(
  source: UrlSource,
  oldestPending: ReadonlyMap<string, number>,
  now: () => number,
): Map<string, number> {
  const ages = new Map<string, number>();
  for (const url of source.registered()) ages.set(safeUrl(url), 0);
  const nowMs = now();
  for (const [url, committedAtMs] of oldestPending) {
    const label = safeUrl(url);
    ages.set(label, Math.max(ages.get(label) ?? 0, (nowMs - committedAtMs) / 1000));
  }
  return ages;
}
