// Regenerates a transaction's events as the bridge's processor built them: every change is observed by
// the rules engine (directories, remembered values) before it is evaluated, a remembered value
// missing from memory is fetched from the source (SELECT), and each event is routed to the URLs
// registered now (optionally one rule, one URL). Events of a transaction read in parts are held until
// its commit, so a range that ends inside a transaction yields nothing of it.

import type { RowChange } from '../domain/row-change.js';
import type { Registry } from '../registry/registry.js';
import { MemoryMiss, type EvaluatedEvent, type RulesEngine } from '../rules/engine.js';
import type { SourceDb } from '../source/source-db.js';
import { evaluateFetching } from '../pipeline/evaluate-fetching.js';
import type { ReplayEvent } from './replay-dedup.js';
import type { ReadTransaction } from './replay-source.js';

export interface EventBuilderDeps {
  readonly engine: RulesEngine;
  /** The registrations in force now (the webhooks table as it is). */
  readonly registry: Registry;
  readonly db: Pick<SourceDb, 'lookupValue'>;
  /** Only this rule's events (--rule). */
  readonly rule?: string | undefined;
  /** Only this URL (--url). */
  readonly url?: string | undefined;
  /** Where the replay began: a transaction starting there may have been recorded from earlier. */
  readonly from: { readonly file: string; readonly pos: number };
  readonly onRuleError: (rule: string, err: unknown, change: RowChange) => void;
}

export class ReplayEventBuilder {
  private held: ReplayEvent[] = [];
  /** Events produced by the rules (before routing and the --rule / --url filters). */
  produced = 0;

  constructor(private readonly deps: EventBuilderDeps) {}

  /** The events of a transaction once its commit is read (none for a part). */
  async eventsOf(tx: ReadTransaction): Promise<ReplayEvent[]> {
    const { engine, registry, rule, url, from } = this.deps;
    for (const change of tx.changes) {
      engine.observe(change);
      let evaluated: EvaluatedEvent[];
      try {
        evaluated = engine.evaluate(change, this.deps.onRuleError);
      } catch (err) {
        if (!(err instanceof MemoryMiss)) throw err;
        evaluated = await this.evaluateFetching(change, err);
      }
      this.produced += evaluated.length;
      const start = change.tx.start;
      for (const ev of evaluated) {
        if (rule !== undefined && ev.ruleId !== rule) continue;
        const urls = registry.urlsFor(ev.name).filter((u) => url === undefined || u === url);
        if (urls.length === 0) continue;
        const first = start.file === from.file && start.pos === from.pos;
        const to = tx.gtidEventEnd > 0 ? tx.gtidEventEnd : tx.partial ? Number.MAX_SAFE_INTEGER : tx.commit.pos;
        this.held.push({
          id: ev.id,
          name: ev.name,
          orderKey: ev.orderKey,
          occurredAtMs: ev.occurredAtMs,
          // As the first run stored it (processor.ts), so latency still counts from the commit.
          committedAtMs: tx.partial ? change.timestampMs : tx.timestampMs,
          body: ev.body,
          urls,
          source: start,
          span: { from: first ? 0 : start.pos, to: Math.max(to, start.pos) },
        });
      }
    }
    if (tx.partial) return [];
    const out = this.held;
    this.held = [];
    return out;
  }

  private evaluateFetching(change: RowChange, firstMiss: MemoryMiss): Promise<EvaluatedEvent[]> {
    const { engine, db, onRuleError } = this.deps;
    return evaluateFetching(change, firstMiss, { engine, db, onRuleError });
  }
}
