// Which source columns the rules read, per table: for checking the rules against the live schema at
// start, and a row image against its rule at run time (schema drift). A static walk of the rule
// definitions; lookups name columns of their directory's table, not of the rule's.

import type { Condition, RegistryDef, RuleDef, RulesFile, Source } from './schema.js';

/** Columns a condition reads. */
export function conditionColumns(cond: Condition): Set<string> {
  const out = new Set<string>();
  fromCondition(cond, out);
  return out;
}

function fromCondition(cond: Condition, out: Set<string>): void {
  if ('all' in cond) cond.all.forEach((c) => fromCondition(c, out));
  else if ('any' in cond) cond.any.forEach((c) => fromCondition(c, out));
  else if ('not' in cond) fromCondition(cond.not, out);
  else if ('changed' in cond) out.add(cond.changed);
  else if ('column' in cond) out.add(cond.column);
}

function fromSource(src: Source, out: Set<string>): void {
  if ('column' in src) out.add(src.column);
  else if ('test' in src) fromCondition(src.test, out);
  else if ('json' in src) out.add(src.json.column);
  else if ('lookup' in src) fromSource(src.lookup.key, out);
  else if ('remembered' in src) fromSource(src.remembered.key, out);
  else if ('coalesce' in src) src.coalesce.forEach((s) => fromSource(s, out));
  else if ('secondsBetween' in src) src.secondsBetween.forEach((s) => fromSource(s, out));
}

/** Columns of the rule's own table that the rule reads. */
export function ruleColumns(rule: RuleDef): Set<string> {
  const out = new Set<string>();
  if (rule.when) fromCondition(rule.when, out);
  if (rule.date) fromSource(rule.date, out);
  for (const src of Object.values(rule.fields)) fromSource(src, out);
  return out;
}

/** Every `schema.table` the rules file reads, with the columns it needs there. */
export function columnsUsed(rules: RulesFile): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (table: string, cols: Iterable<string>): void => {
    const set = out.get(table) ?? new Set<string>();
    for (const c of cols) set.add(c);
    out.set(table, set);
  };
  for (const rule of rules.rules) add(rule.table, ruleColumns(rule));
  for (const [name, cols] of directoryColumns(rules)) add(rules.directories[name]!.table, cols);
  for (const mem of Object.values(rules.memories)) {
    add(mem.table, [mem.key, mem.value, ...(mem.when ? [mem.when.column] : []), ...(mem.orderBy ? [mem.orderBy] : [])]);
  }
  add(rules.registry.table, registryColumns(rules.registry));
  return out;
}

/** The registry columns kept and mirrored: key, event, url and those its condition reads. */
export function registryColumns(def: RegistryDef): string[] {
  const out = new Set([def.key, def.eventColumn, def.urlColumn]);
  if (def.when) for (const c of conditionColumns(def.when)) out.add(c);
  return [...out];
}

/**
 * Per directory (by name), the columns of its table that anything reads: its key, match and parent
 * columns and every column a lookup takes from it. The mirrors keep these and nothing else.
 */
export function directoryColumns(rules: RulesFile): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const [name, dir] of Object.entries(rules.directories)) {
    out.set(
      name,
      new Set([dir.key, ...(dir.match ?? []).map((m) => m.column), ...(dir.parent ? [dir.parent.column] : [])]),
    );
  }
  const visit = (src: Source): void => {
    if ('lookup' in src) {
      out.get(src.lookup.directory)?.add(src.lookup.column);
      visit(src.lookup.key);
    } else if ('remembered' in src) visit(src.remembered.key);
    else if ('coalesce' in src) src.coalesce.forEach(visit);
    else if ('secondsBetween' in src) src.secondsBetween.forEach(visit);
  };
  for (const rule of rules.rules) {
    Object.values(rule.fields).forEach(visit);
    if (rule.date) visit(rule.date);
  }
  return new Map([...out].map(([name, cols]) => [name, [...cols]]));
}
