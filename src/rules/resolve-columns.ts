// Column names as the live schema spells them. MySQL matches column names case-insensitively, so a
// rules file may write `id` for uContact's `Id`; row images (binlog and SELECT alike) carry the real
// name. Resolved once at start-up into a rules file with every column spelled as the server does, so
// the hot path compares names exactly. Table names are not folded: the server's own rule applies.

import type { Condition, RulesFile, Source } from './schema.js';

/** Real names of a table's columns by their lower-case form. */
type Spelling = ReadonlyMap<string, string>;

export interface ResolvedRules {
  readonly rules: RulesFile;
  /** One line per table or column the live schema lacks, with the rules-file path that names it. */
  readonly problems: string[];
}

class Resolver {
  readonly problems: string[] = [];
  private readonly spellings = new Map<string, Spelling | undefined>();

  constructor(private readonly live: ReadonlyMap<string, ReadonlySet<string>>) {}

  column(table: string, name: string, at: string): string {
    const spelling = this.spellingOf(table);
    if (!spelling) return name;
    const real = spelling.get(name.toLowerCase());
    if (real !== undefined) return real;
    this.problems.push(`${at}: column ${table}.${name} does not exist`);
    return name;
  }

  condition(table: string, cond: Condition, at: string): Condition {
    if ('all' in cond) return { all: cond.all.map((c, i) => this.condition(table, c, `${at}.all[${i}]`)) };
    if ('any' in cond) return { any: cond.any.map((c, i) => this.condition(table, c, `${at}.any[${i}]`)) };
    if ('not' in cond) return { not: this.condition(table, cond.not, `${at}.not`) };
    if ('changed' in cond) return { changed: this.column(table, cond.changed, `${at}.changed`) };
    if ('column' in cond) return { ...cond, column: this.column(table, cond.column, `${at}.column`) };
    return cond;
  }

  source(rules: RulesFile, table: string, src: Source, at: string): Source {
    if ('column' in src) return { ...src, column: this.column(table, src.column, `${at}.column`) };
    if ('test' in src) return { test: this.condition(table, src.test, `${at}.test`) };
    if ('json' in src) {
      return { json: { ...src.json, column: this.column(table, src.json.column, `${at}.json.column`) } };
    }
    if ('lookup' in src) {
      const dirTable = rules.directories[src.lookup.directory]!.table;
      return {
        lookup: {
          ...src.lookup,
          key: this.source(rules, table, src.lookup.key, `${at}.lookup.key`),
          column: this.column(dirTable, src.lookup.column, `${at}.lookup.column`),
        },
      };
    }
    if ('remembered' in src) {
      return {
        remembered: { ...src.remembered, key: this.source(rules, table, src.remembered.key, `${at}.remembered.key`) },
      };
    }
    if ('coalesce' in src) {
      return { coalesce: src.coalesce.map((s, i) => this.source(rules, table, s, `${at}.coalesce[${i}]`)) };
    }
    if ('secondsBetween' in src) {
      const [a, b] = src.secondsBetween;
      return {
        secondsBetween: [
          this.source(rules, table, a, `${at}.secondsBetween[0]`),
          this.source(rules, table, b, `${at}.secondsBetween[1]`),
        ],
      };
    }
    return src;
  }

  private spellingOf(table: string): Spelling | undefined {
    if (this.spellings.has(table)) return this.spellings.get(table);
    const cols = this.live.get(table);
    const spelling = cols ? new Map([...cols].map((c) => [c.toLowerCase(), c])) : undefined;
    if (!spelling) {
      this.problems.push(
        `table ${table} does not exist, or the bridge user cannot see ` +
          `it (GRANT SELECT ON ${table.split('.')[0]}.* TO the bridge user)`,
      );
    }
    this.spellings.set(table, spelling);
    return spelling;
  }
}

/** The rules with every column spelled as `live` (columns by `schema.table`) spells it. */
export function resolveColumns(rules: RulesFile, live: ReadonlyMap<string, ReadonlySet<string>>): ResolvedRules {
  const r = new Resolver(live);
  const reg = rules.registry;
  const registry = {
    ...reg,
    key: r.column(reg.table, reg.key, 'registry.key'),
    eventColumn: r.column(reg.table, reg.eventColumn, 'registry.eventColumn'),
    urlColumn: r.column(reg.table, reg.urlColumn, 'registry.urlColumn'),
    ...(reg.when ? { when: r.condition(reg.table, reg.when, 'registry.when') } : {}),
  };
  const directories = Object.fromEntries(
    Object.entries(rules.directories).map(([name, d]) => {
      const at = `directories.${name}`;
      return [
        name,
        {
          ...d,
          key: r.column(d.table, d.key, `${at}.key`),
          ...(d.match
            ? {
                match: d.match.map((m, i) => ({
                  ...m,
                  column: r.column(d.table, m.column, `${at}.match[${i}].column`),
                })),
              }
            : {}),
          ...(d.parent
            ? { parent: { ...d.parent, column: r.column(d.table, d.parent.column, `${at}.parent.column`) } }
            : {}),
        },
      ];
    }),
  );
  const memories = Object.fromEntries(
    Object.entries(rules.memories).map(([name, m]) => {
      const at = `memories.${name}`;
      return [
        name,
        {
          ...m,
          key: r.column(m.table, m.key, `${at}.key`),
          value: r.column(m.table, m.value, `${at}.value`),
          ...(m.when ? { when: { ...m.when, column: r.column(m.table, m.when.column, `${at}.when.column`) } } : {}),
          ...(m.orderBy ? { orderBy: r.column(m.table, m.orderBy, `${at}.orderBy`) } : {}),
        },
      ];
    }),
  );
  const ruleDefs = rules.rules.map((rule, i) => {
    const at = `rules[${i}]`;
    return {
      ...rule,
      ...(rule.when ? { when: r.condition(rule.table, rule.when, `${at}.when`) } : {}),
      ...(rule.date ? { date: r.source(rules, rule.table, rule.date, `${at}.date`) } : {}),
      fields: Object.fromEntries(
        Object.entries(rule.fields).map(([f, s]) => [f, r.source(rules, rule.table, s, `${at}.fields.${f}`)]),
      ),
    };
  });
  return {
    rules: Object.freeze({ ...rules, registry, directories, memories, rules: ruleDefs }),
    problems: r.problems,
  };
}
