// Evaluating a row change whose rules need remembered values not in memory yet: fetch each missing
// value from the source (read-only) and evaluate again. Shared by the bridge's processor and replay,
// so both regenerate the same events from the same change.

import { formatPosition, type RowChange } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { MemoryMiss, type EvaluatedEvent, type RulesEngine } from '../rules/engine.js';
import type { SourceDb } from '../source/source-db.js';

/** How many MemoryMiss fetches one row change may need before something is wrong. */
const MAX_FETCHES_PER_CHANGE = 16;

export interface FetchingDeps {
  readonly engine: RulesEngine;
  readonly db: Pick<SourceDb, 'lookupValue'>;
  readonly onRuleError: (rule: string, err: unknown, change: RowChange) => void;
  /** Told of each value fetched (the processor logs it at debug). */
  readonly onFetched?: (memory: string, found: boolean) => void;
}

/** Evaluates `change` again after each remembered value it misses is fetched from the source. */
export async function evaluateFetching(
  change: RowChange,
  firstMiss: MemoryMiss,
  deps: FetchingDeps,
): Promise<EvaluatedEvent[]> {
  let miss = firstMiss;
  for (let i = 0; i < MAX_FETCHES_PER_CHANGE; i++) {
    await fetchRemembered(miss, deps);
    try {
      return deps.engine.evaluate(change, deps.onRuleError);
    } catch (err) {
      if (!(err instanceof MemoryMiss)) throw err;
      miss = err;
    }
  }
  throw new BridgeError(
    'UCW_ERR_SOURCE_QUERY',
    `remembered values kept missing for a row change of the transaction at ${formatPosition(change.tx.start)}`,
  );
}

async function fetchRemembered(miss: MemoryMiss, deps: FetchingDeps): Promise<void> {
  const { engine, db } = deps;
  const def = engine.memoryDef(miss.memory)!;
  const filter = def.when ? { column: def.when.column, values: def.when.in ?? [def.when.eq] } : undefined;
  const value = await db.lookupValue({
    table: def.table,
    keyColumn: def.key,
    key: miss.key,
    valueColumn: def.value,
    ...(filter ? { filter } : {}),
    ...(def.orderBy ? { orderBy: def.orderBy } : {}),
  });
  deps.onFetched?.(miss.memory, value !== null);
  engine.remember(miss.memory, miss.key, value);
}
