// One committed source transaction in, one outbox commit out (a large one arrives in parts, staged
// in the outbox and promoted with the checkpoint by that same commit). Row changes are applied in binlog
// order to the mirrors (directories, registry) and remembered values before the rules see them, so
// every event is built and routed with the source's state as of its own row change.

import { performance } from 'node:perf_hooks';
import { formatPosition, tableId, type RowChange, type SourceTransaction } from '../domain/row-change.js';
import { BridgeError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Delivery, EnqueuedEvent, MirrorChange, StateStore, StagedCounts } from '../outbox/state-store.js';
import type { Registry } from '../registry/registry.js';
import { keyString, projectRow } from '../rules/directory.js';
import { MemoryMiss, type EvaluatedEvent, type RulesEngine } from '../rules/engine.js';
import type { SourceDb } from '../source/source-db.js';
import { evaluateFetching } from './evaluate-fetching.js';
import { registrationsOf, removedSince, type Registration } from './unregistered.js';

export interface MirrorTable {
  readonly table: string;
  readonly key: string;
  /** The only columns stored: those the rules read (a row image is projected before it is kept). */
  readonly columns: readonly string[];
}

/** The tables the state store mirrors: each directory the rules use, and the webhook registry. */
export function mirrorTablesOf(engine: RulesEngine, registry: Registry): MirrorTable[] {
  const tables: MirrorTable[] = [...engine.directories.values()].map((d) => ({
    table: d.table,
    key: d.keyColumn,
    columns: d.columns,
  }));
  tables.push({ table: registry.def.table, key: registry.def.key, columns: registry.columns });
  return tables;
}

export interface ProcessorDeps {
  readonly engine: RulesEngine;
  readonly registry: Registry;
  /** Tables mirrored in the outbox (directories and the registry), with their primary keys and the columns kept. */
  readonly mirrorTables: ReadonlyArray<MirrorTable>;
  readonly outbox: StateStore;
  readonly db: Pick<SourceDb, 'lookupValue'>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /**
   * Called after each outbox commit with the deliveries it created, and, for a transaction read in
   * parts, how many were staged before (per URL; they precede `created` and stay in the store).
   */
  readonly onEnqueued: (created: Delivery[], staged: StagedCounts | undefined) => void;
  /**
   * Called before the outbox commit of a transaction that removed registrations: the deliveries
   * pending for them from earlier transactions are cancelled (this one's are not pending yet).
   */
  readonly onUnregistered?: (removed: Registration[]) => void;
}

/**
 * Longest stretch of row processing before yielding to the event loop (ms). A backlog arrives faster
 * than it can be processed, and without yielding the whole of it ran as one chain of microtasks:
 * delivery outcomes waited for seconds and the HTTP worker sat idle until reading was done.
 */
const SLICE_MS = 4;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class TransactionProcessor {
  private readonly mirrored: ReadonlyMap<string, MirrorTable>;
  /**
   * Of the transaction being read in parts: deliveries staged so far (counts only), and whether the
   * registry changed. Its mirror changes are staged in the store, so memory does not grow with it.
   */
  private openStaged: StagedCounts | undefined;
  /** Registrations in force before the open transaction's first registry change (none: unchanged). */
  private openRegistrations: Set<string> | undefined;

  constructor(private readonly deps: ProcessorDeps) {
    this.mirrored = new Map(deps.mirrorTables.map((t) => [t.table, t]));
  }

  async process(tx: SourceTransaction): Promise<void> {
    const { engine, registry, outbox, metrics } = this.deps;
    const events: EnqueuedEvent[] = [];
    const mirror: MirrorChange[] = [];
    // Counted here and added to the metrics once per transaction: a counter update per row costs on the hot path.
    const rowsByTable = new Map<string, number>();
    const eventsByName = new Map<string, number>();
    let sliceStart = performance.now();
    for (const change of tx.changes) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
      const table = tableId(change.schema, change.table);
      tally(rowsByTable, table);
      const mirrored = this.mirrored.get(table);
      if (mirrored !== undefined) mirror.push(...mirrorChanges(mirrored, change));
      if (table === registry.def.table) {
        // Fail closed: a row read without its url or event column would silently unregister its URL.
        const gone = missingColumn(registry.columns, change.before) ?? missingColumn(registry.columns, change.after);
        if (gone !== undefined) throw registryDrift(table, gone, change);
        this.openRegistrations ??= registrationsOf(registry);
        registry.apply(change.before, change.after);
      }
      engine.observe(change);
      let evaluated: EvaluatedEvent[];
      try {
        // Synchronous unless a remembered value must be fetched first: no promise per row.
        evaluated = engine.evaluate(change, this.onRuleError);
      } catch (err) {
        if (!(err instanceof MemoryMiss)) throw err;
        evaluated = await this.evaluateFetching(change, err);
      }
      if (evaluated.length === 0) continue;
      // The transaction's start: known with its first part, and the same on every replay of it.
      const source = change.tx.start;
      for (const ev of evaluated) {
        tally(eventsByName, ev.name);
        events.push({
          id: ev.id,
          name: ev.name,
          orderKey: ev.orderKey,
          occurredAtMs: ev.occurredAtMs,
          // The commit's binlog time; a part stored before its commit has only its row event's.
          committedAtMs: tx.partial ? change.timestampMs : tx.timestampMs,
          body: ev.body,
          urls: registry.urlsFor(ev.name),
          source,
        });
      }
    }
    addCounts(metrics, metrics.sourceRowChanges, rowsByTable);
    addCounts(metrics, metrics.events, eventsByName);
    if (tx.partial) {
      // A part of a large transaction: stored, but delivered only once its commit is read. Only
      // counts are kept: the delivery scheduler pages these deliveries in from the store.
      const staged = (this.openStaged ??= new Map<string, number>());
      for (const [url, n] of outbox.stage(events, mirror)) tally(staged, url, n);
      const enqueuedByName = new Map<string, number>();
      for (const ev of events) if (ev.urls.length > 0) tally(enqueuedByName, ev.name, ev.urls.length);
      addCounts(metrics, metrics.eventsEnqueued, enqueuedByName);
      return;
    }
    const registryChanged = this.openRegistrations !== undefined;
    if (this.openRegistrations) {
      const removed = removedSince(this.openRegistrations, registry);
      this.openRegistrations = undefined;
      if (removed.length > 0) this.deps.onUnregistered?.(removed);
    }
    const created = outbox.commit({
      events,
      mirror,
      checkpoint: tx.commit,
      commitTimeMs: tx.timestampMs,
      gtid: tx.gtid,
    });
    const staged = this.openStaged;
    this.openStaged = undefined;
    metrics.sourceTransactions.inc();
    metrics.observeSourceCommit(tx.timestampMs);
    if (registryChanged) metrics.registryUrls.set(registry.size);
    const enqueuedByName = new Map<string, number>();
    for (const d of created) tally(enqueuedByName, d.eventName);
    addCounts(metrics, metrics.eventsEnqueued, enqueuedByName);
    if (created.length > 0 || staged) this.deps.onEnqueued(created, staged);
  }

  /**
   * Forgets a transaction left open by a broken stream: it will be read again from the checkpoint,
   * so its staged deliveries and mirror changes are dropped. Call before streaming starts.
   */
  abandonOpenTransaction(): void {
    this.openStaged = undefined;
    this.openRegistrations = undefined;
    this.deps.outbox.discardStaged();
  }

  /** Reports a rule that failed on a change (bound once: it is passed for every row). */
  private readonly onRuleError = (rule: string, err: unknown, change: RowChange): void => {
    const { logger, metrics } = this.deps;
    metrics.ruleErrors.inc({ rule });
    const where = { rule, table: `${change.schema}.${change.table}`, position: formatPosition(change.tx.start) };
    if (err instanceof BridgeError && err.code === 'UCW_ERR_RULES_SCHEMA_DRIFT') {
      logger.error(
        { ...where, ...err.details, code: err.code, error: err.message, hint: err.hint },
        'schema drift: rule stopped (fail closed); other rules continue',
      );
      return;
    }
    logger.error(
      { ...where, code: 'UCW_ERR_RULES_EVAL', err: describeError(err) },
      'a rule failed on a row change; that event was not produced',
    );
  };

  /** Evaluates a change again after each remembered value it misses is fetched from the source. */
  private evaluateFetching(change: RowChange, firstMiss: MemoryMiss): Promise<EvaluatedEvent[]> {
    const { engine, db, logger } = this.deps;
    return evaluateFetching(change, firstMiss, {
      engine,
      db,
      onRuleError: this.onRuleError,
      onFetched: (memory, found) => logger.debug({ memory, found }, 'remembered value fetched from the source'),
    });
  }
}

function tally(counts: Map<string, number>, key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

/** Adds counts kept per label value to a labelled counter, one update per value. */
function addCounts(
  metrics: Metrics,
  counter: Metrics['sourceRowChanges'] | Metrics['events'],
  counts: ReadonlyMap<string, number>,
): void {
  for (const [value, n] of counts) metrics.child(counter, value).inc(n);
}

function missingColumn(columns: readonly string[], image: Record<string, unknown> | null): string | undefined {
  if (!image) return undefined;
  for (const col of columns) if (!(col in image)) return col;
  return undefined;
}

/** Fatal (a mirrored table cannot be skipped): the supervisor stops the bridge with it. */
function registryDrift(table: string, column: string, change: RowChange): BridgeError {
  const position = formatPosition(change.tx.start);
  return new BridgeError(
    'UCW_ERR_RULES_SCHEMA_DRIFT',
    `the registry table ${table} lost its column ${column} in the transaction at binlog ${position}: ` +
      'its registrations can no longer be read',
    {
      hint: `Give ${table} its ${column} column back (or point the rules' registry at the new one) and restart.`,
      details: { table, column, position },
    },
  );
}

function mirrorChanges({ table, key, columns }: MirrorTable, change: RowChange): MirrorChange[] {
  const out: MirrorChange[] = [];
  const oldPk = change.before ? keyString(change.before[key]) : undefined;
  const newPk = change.after ? keyString(change.after[key]) : undefined;
  if (oldPk !== undefined && oldPk !== newPk) out.push({ table, pk: oldPk, row: null });
  if (newPk !== undefined && change.after) out.push({ table, pk: newPk, row: projectRow(change.after, columns) });
  return out;
}
