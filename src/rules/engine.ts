// The rules engine: compiled rules plus the state they read (directory mirrors, remembered values).
// observe() must see every change of a watched table in binlog order before evaluate() runs on it, so
// lookups reflect the source as of that change. evaluate() is synchronous; a remembered value that
// may exist only in the database surfaces as a MemoryMiss for the caller to fetch and retry.

import { EVENT_SPECS, type EventName, type FieldType, type PayloadValue } from '../domain/events.js';
import { eventIdFor } from '../domain/event-id.js';
import { formatPosition, tableId, type Row, type RowChange } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';
import { directoryColumns, ruleColumns } from './columns.js';
import { Directory, keyString } from './directory.js';
import { RememberedValues } from './memory.js';
import type { Condition, MemoryDef, RuleDef, RulesFile, Scalar, Source } from './schema.js';
import { formatPayloadDate, parseSourceDatetime } from './time.js';

/** Thrown by evaluate() when a remembered value must be fetched from the source first. */
export class MemoryMiss extends Error {
  constructor(
    readonly memory: string,
    readonly key: string,
  ) {
    super(`remembered value ${memory}[${key}] is not in memory`);
    this.name = 'MemoryMiss';
  }
}

/** An event produced by a rule, before routing to URLs. */
export interface EvaluatedEvent {
  readonly id: string;
  readonly ruleId: string;
  readonly name: EventName;
  readonly orderKey: string;
  readonly occurredAtMs: number;
  readonly body: string;
}

type Getter = (change: RowChange) => unknown;
type Predicate = (change: RowChange) => boolean;

interface CompiledRule {
  readonly id: string;
  readonly event: EventName;
  readonly table: string;
  /** Columns of its table the rule reads: each must be in every row image it sees. */
  readonly columns: readonly string[];
  readonly kinds: ReadonlySet<string>;
  readonly when: Predicate;
  readonly date: Getter | undefined;
  readonly orderKeyField: string;
  readonly fields: ReadonlyArray<{ name: string; type: FieldType; get: Getter }>;
}

/** Comparable form of a column value: numbers, strings, booleans and buffers compare by text. */
function norm(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? null;
}

function truthy(v: unknown): boolean {
  const n = norm(v);
  return n !== null && n !== '' && n !== '0' && !/^0+(\.0+)?$/.test(n);
}

const normScalar = (s: Scalar): string | null => norm(s);

function rowOf(change: RowChange, side: 'new' | 'old' | undefined): Row | null {
  if (side === 'old') return change.before;
  // On a delete the only image is the old one: "new" falls back to it so deletes can be matched.
  return change.after ?? change.before;
}

export function compileCondition(cond: Condition): Predicate {
  if ('all' in cond) {
    const parts = cond.all.map(compileCondition);
    return (c) => parts.every((p) => p(c));
  }
  if ('any' in cond) {
    const parts = cond.any.map(compileCondition);
    return (c) => parts.some((p) => p(c));
  }
  if ('not' in cond) {
    const inner = compileCondition(cond.not);
    return (c) => !inner(c);
  }
  if ('change' in cond) {
    const kind = cond.change;
    return (c) => c.kind === kind;
  }
  if ('changed' in cond) {
    const col = cond.changed;
    return (c) => c.kind === 'update' && norm(c.before?.[col]) !== norm(c.after?.[col]);
  }
  const { column, row } = cond;
  const value: Getter = (c) => rowOf(c, row)?.[column];
  if (cond.eq !== undefined) {
    const want = normScalar(cond.eq);
    return (c) => norm(value(c)) === want;
  }
  if (cond.ne !== undefined) {
    const want = normScalar(cond.ne);
    return (c) => norm(value(c)) !== want;
  }
  if (cond.in !== undefined) {
    const set = new Set(cond.in.map(normScalar));
    return (c) => set.has(norm(value(c)));
  }
  if (cond.notIn !== undefined) {
    const set = new Set(cond.notIn.map(normScalar));
    return (c) => !set.has(norm(value(c)));
  }
  if (cond.isNull !== undefined) {
    const want = cond.isNull;
    return (c) => (value(c) === null || value(c) === undefined) === want;
  }
  const want = cond.truthy === true;
  return (c) => truthy(value(c)) === want;
}

/** The first of `columns` a row image lacks (checked per rule and row, so it allocates nothing). */
function missingColumn(columns: readonly string[], image: Row | null): string | undefined {
  if (!image) return undefined;
  for (const col of columns) if (!(col in image)) return col;
  return undefined;
}

function jsonPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  if (typeof cur === 'string' || Buffer.isBuffer(cur)) {
    try {
      cur = JSON.parse(cur.toString());
    } catch {
      return null;
    }
  }
  for (const step of path.slice(1).match(/\.[^.[]+|\[\d+\]/g) ?? []) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = step.startsWith('[')
      ? (cur as unknown[])[Number(step.slice(1, -1))]
      : (cur as Record<string, unknown>)[step.slice(1)];
  }
  return cur === undefined ? null : cur;
}

export class RulesEngine {
  readonly directories = new Map<string, Directory>();
  readonly memories = new Map<string, RememberedValues>();
  private readonly rulesByTable = new Map<string, CompiledRule[]>();
  private readonly directoryByTable = new Map<string, Directory>();
  private readonly memoriesByTable = new Map<string, Array<{ mem: RememberedValues; when: Predicate }>>();
  private readonly sourceZone: string;
  private readonly outputZone: string;
  private readonly stopped = new Map<string, string>();

  constructor(
    readonly rules: RulesFile,
    outputTimezone: string,
  ) {
    this.sourceZone = rules.sourceTimezone;
    this.outputZone = outputTimezone;
    const kept = directoryColumns(rules);
    for (const [name, def] of Object.entries(rules.directories)) {
      const dir = new Directory(def, kept.get(name)!);
      this.directories.set(name, dir);
      this.directoryByTable.set(def.table, dir);
    }
    for (const [name, def] of Object.entries(rules.memories)) {
      const mem = new RememberedValues(def);
      this.memories.set(name, mem);
      const when: Predicate = def.when ? compileCondition(def.when) : () => true;
      const list = this.memoriesByTable.get(def.table) ?? [];
      list.push({ mem, when });
      this.memoriesByTable.set(def.table, list);
    }
    for (const def of rules.rules) {
      const list = this.rulesByTable.get(def.table) ?? [];
      list.push(this.compileRule(def));
      this.rulesByTable.set(def.table, list);
    }
  }

  /** Tables whose changes the engine needs (rules, directories, memories). */
  watchedTables(): string[] {
    return [...new Set([...this.rulesByTable.keys(), ...this.directoryByTable.keys(), ...this.memoriesByTable.keys()])];
  }

  /** Stops every rule reading `table` for good (fail closed); returns the ids newly stopped. */
  stopRulesOn(table: string, reason: string): string[] {
    const ids: string[] = [];
    for (const rule of this.rulesByTable.get(table) ?? []) {
      if (this.stopped.has(rule.id)) continue;
      this.stopped.set(rule.id, reason);
      ids.push(rule.id);
    }
    return ids;
  }

  directoryForTable(table: string): Directory | undefined {
    return this.directoryByTable.get(table);
  }

  /** Updates directories and remembered values from a change; call before evaluate(change). */
  observe(change: RowChange): void {
    const table = tableId(change.schema, change.table);
    this.directoryByTable.get(table)?.apply(change.before, change.after);
    const mems = this.memoriesByTable.get(table);
    if (mems && change.after) {
      for (const { mem, when } of mems) {
        if (!when(change)) continue;
        const key = keyString(change.after[mem.def.key]);
        if (key !== undefined) mem.set(key, change.after[mem.def.value]);
      }
    }
  }

  /** Stores a value fetched from the source after a MemoryMiss (null when no row had it). */
  remember(memory: string, key: string, value: unknown): void {
    this.memories.get(memory)?.set(key, value);
  }

  memoryDef(memory: string): MemoryDef | undefined {
    return this.memories.get(memory)?.def;
  }

  /**
   * Events the rules produce for one change. Throws MemoryMiss when a fetch is needed first; any other
   * failure of one rule is reported through `onRuleError` and does not stop the other rules. A rule
   * whose table no longer has the shape it reads (schema drift) is stopped for good: it fails closed
   * rather than emit events with missing or misread fields.
   */
  evaluate(
    change: RowChange,
    onRuleError: (ruleId: string, err: unknown, change: RowChange) => void,
  ): EvaluatedEvent[] {
    const rules = this.rulesByTable.get(tableId(change.schema, change.table));
    if (!rules) return [];
    const out: EvaluatedEvent[] = [];
    for (const rule of rules) {
      if (this.stopped.has(rule.id)) continue;
      try {
        if (!rule.kinds.has(change.kind)) continue;
        const drift = this.drift(rule, change);
        if (drift) {
          this.stopped.set(rule.id, drift.message);
          onRuleError(rule.id, drift, change);
          continue;
        }
        if (!rule.when(change)) continue;
        out.push(this.build(rule, change));
      } catch (err) {
        if (err instanceof MemoryMiss) throw err;
        onRuleError(rule.id, err, change);
      }
    }
    return out;
  }

  private drift(rule: CompiledRule, change: RowChange): BridgeError | undefined {
    const column = missingColumn(rule.columns, change.before) ?? missingColumn(rule.columns, change.after);
    if (column === undefined) return undefined;
    const at = formatPosition(change.tx.start);
    return new BridgeError(
      'UCW_ERR_RULES_SCHEMA_DRIFT',
      `rule ${rule.id} stopped: column ${rule.table}.${column} is gone in the transaction at binlog ${at}`,
      {
        hint:
          `The table changed under the rules (ALTER TABLE). Fix the rules file ` +
          `for ${rule.table}.${column} and restart; other rules keep running.`,
        details: { rule: rule.id, table: rule.table, column, position: at },
      },
    );
  }

  private build(rule: CompiledRule, change: RowChange): EvaluatedEvent {
    const dateMs = rule.date ? parseSourceDatetime(rule.date(change), this.sourceZone) : null;
    const occurredAtMs = dateMs ?? change.timestampMs;
    const body: Record<string, PayloadValue> = {
      event: rule.event,
      date: formatPayloadDate(occurredAtMs, this.outputZone),
    };
    for (const field of rule.fields) body[field.name] = this.coerce(field.get(change), field.type);
    const keyValue = body[rule.orderKeyField];
    return {
      id: eventIdFor(change, rule.id),
      ruleId: rule.id,
      name: rule.event,
      orderKey: `${rule.orderKeyField}:${keyValue === null || keyValue === undefined ? '' : String(keyValue)}`,
      occurredAtMs,
      body: JSON.stringify(body),
    };
  }

  private coerce(value: unknown, type: FieldType): PayloadValue {
    if (value === null || value === undefined) return null;
    switch (type) {
      case 'boolean':
        if (typeof value === 'boolean') return value;
        return norm(value) === null ? null : truthy(value);
      case 'number': {
        if (typeof value === 'number') return Number.isFinite(value) ? value : null;
        const n = Number(norm(value));
        return norm(value) === '' || !Number.isFinite(n) ? null : n;
      }
      case 'datetime': {
        const ms = parseSourceDatetime(value, this.sourceZone);
        return ms === null ? null : formatPayloadDate(ms, this.outputZone);
      }
      case 'string':
        return norm(value);
    }
  }

  private compileRule(def: RuleDef): CompiledRule {
    const spec = EVENT_SPECS[def.event];
    return {
      id: def.id ?? def.event,
      event: def.event,
      table: def.table,
      columns: [...ruleColumns(def)],
      kinds: new Set(def.on),
      when: def.when ? compileCondition(def.when) : () => true,
      date: def.date ? this.compileSource(def.date) : undefined,
      orderKeyField: def.orderKey,
      fields: spec.fields.map((f) => ({ name: f.name, type: f.type, get: this.compileSource(def.fields[f.name]!) })),
    };
  }

  private compileSource(src: Source): Getter {
    if ('column' in src) {
      const { column, row } = src;
      return (c) => rowOf(c, row)?.[column] ?? null;
    }
    if ('const' in src) {
      const v = src.const;
      return () => v;
    }
    if ('test' in src) return compileCondition(src.test);
    if ('json' in src) {
      const { column, path, row } = src.json;
      return (c) => jsonPath(rowOf(c, row)?.[column] ?? null, path);
    }
    if ('coalesce' in src) {
      const parts = src.coalesce.map((s) => this.compileSource(s));
      return (c) => {
        for (const p of parts) {
          const v = p(c);
          if (v !== null && v !== undefined) return v;
        }
        return null;
      };
    }
    if ('secondsBetween' in src) {
      const [a, b] = src.secondsBetween.map((s) => this.compileSource(s)) as [Getter, Getter];
      return (c) => {
        const start = parseSourceDatetime(a(c), this.sourceZone);
        const end = parseSourceDatetime(b(c), this.sourceZone);
        return start === null || end === null ? null : Math.floor((end - start) / 1000);
      };
    }
    if ('lookup' in src) {
      const dir = this.directories.get(src.lookup.directory)!;
      const key = this.compileSource(src.lookup.key);
      const { column, level } = src.lookup;
      if (level === undefined) return (c) => dir.resolve(key(c))?.[column] ?? null;
      return (c) => dir.chain(key(c))[level - 1]?.[column] ?? null;
    }
    const memName = src.remembered.memory;
    const mem = this.memories.get(memName)!;
    const key = this.compileSource(src.remembered.key);
    return (c) => {
      const k = keyString(key(c));
      if (k === undefined || k === '') return null;
      if (mem.has(k)) return mem.get(k);
      if (mem.def.fallbackQuery) throw new MemoryMiss(memName, k);
      return null;
    };
  }
}
