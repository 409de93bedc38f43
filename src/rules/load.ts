// Turns rules text (JSON or YAML) into a validated RulesFile, or a BridgeError listing every problem
// with its path. Beyond the zod schema it checks what a schema cannot: each rule fills exactly the
// spec's fields, with sources able to produce the spec's types, naming directories/memories that exist.

import { readFileSync } from 'node:fs';
import { parseJsonOrYaml } from '../config/json-or-yaml.js';
import { EVENT_SPECS, type FieldType } from '../domain/events.js';
import { BridgeError } from '../errors.js';
import { DEFAULT_RULES } from './default-rules.js';
import { rulesFileSchema, type Condition, type RulesFile, type Source } from './schema.js';

const RULES_HINT = 'Fix the rules file (see docs/rules.md), or run without --rules to use the defaults.';

export function loadRulesFile(path: string): RulesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BridgeError('UCW_ERR_RULES_READ', `cannot read rules file ${path}: ${(err as Error).message}`, {
      hint: 'Check the --rules path and its permissions.',
      cause: err,
    });
  }
  return parseRules(text, path);
}

export function defaultRules(): RulesFile {
  return validateRules(DEFAULT_RULES, 'default rules');
}

export function parseRules(text: string, origin: string): RulesFile {
  let raw: unknown;
  try {
    raw = parseJsonOrYaml(text);
  } catch (err) {
    throw new BridgeError(
      'UCW_ERR_RULES_PARSE',
      `${origin} is neither valid JSON nor valid YAML: ${(err as Error).message}`,
      {
        hint: RULES_HINT,
        cause: err,
      },
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BridgeError('UCW_ERR_RULES_PARSE', `${origin} must contain an object at the top level`, {
      hint: RULES_HINT,
    });
  }
  return validateRules(raw, origin);
}

export function validateRules(raw: unknown, origin: string): RulesFile {
  const parsed = rulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(
      origin,
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    );
  }
  const problems = semanticProblems(parsed.data);
  if (problems.length > 0) throw invalid(origin, problems);
  return Object.freeze(parsed.data);
}

function invalid(origin: string, problems: string[]): BridgeError {
  return new BridgeError('UCW_ERR_RULES_INVALID', `${origin} is invalid:\n  - ${problems.join('\n  - ')}`, {
    hint: RULES_HINT,
    details: { problems },
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/** What a source can yield, statically: 'any' is a column-like value coerced at run time. */
type SourceType = 'any' | 'boolean' | 'number' | 'string' | 'null';

function sourceType(src: Source): SourceType {
  if ('column' in src || 'json' in src || 'lookup' in src || 'remembered' in src) return 'any';
  if ('test' in src) return 'boolean';
  if ('secondsBetween' in src) return 'number';
  if ('const' in src) {
    const v = src.const;
    return v === null ? 'null' : (typeof v as 'string' | 'number' | 'boolean');
  }
  const types = new Set(src.coalesce.map(sourceType).filter((t) => t !== 'null'));
  if (types.size === 1) return [...types][0]!;
  return types.size === 0 ? 'null' : 'any';
}

function compatible(field: FieldType, src: SourceType): boolean {
  if (src === 'any' || src === 'null') return true;
  switch (field) {
    case 'boolean':
      return src === 'boolean';
    case 'number':
      return src === 'number';
    case 'string':
      return src === 'string' || src === 'number';
    case 'datetime':
      return src === 'string' || src === 'number';
  }
}

function semanticProblems(rules: RulesFile): string[] {
  const problems: string[] = [];
  const ids = new Map<string, number>();
  const tables = new Set<string>();
  const regTable = rules.registry.table;

  for (const [name, dir] of Object.entries(rules.directories)) {
    if (tables.has(dir.table) || dir.table === regTable)
      problems.push(`directories.${name}.table: ${dir.table} is already mirrored`);
    tables.add(dir.table);
  }

  if (rules.registry.when) registryConditionProblems(rules.registry.when, 'registry.when', problems);

  rules.rules.forEach((rule, i) => {
    const at = `rules[${i}]`;
    const id = rule.id ?? rule.event;
    const prev = ids.get(id);
    if (prev !== undefined) {
      problems.push(`${at}.id: "${id}" is also the id of rules[${prev}]; give each rule a unique id`);
    }
    ids.set(id, i);

    const spec = EVENT_SPECS[rule.event];
    const expected = spec.fields.map((f) => f.name);
    for (const name of Object.keys(rule.fields)) {
      if (!expected.includes(name)) {
        problems.push(
          `${at}.fields.${name}: ${rule.event} has no field "${name}" (its fields: ${expected.join(', ')})`,
        );
      }
    }
    for (const field of spec.fields) {
      const src = rule.fields[field.name];
      if (!src) {
        problems.push(`${at}.fields.${field.name}: missing; ${rule.event} requires ${expected.join(', ')}`);
        continue;
      }
      const t = sourceType(src);
      if (!compatible(field.type, t)) {
        problems.push(
          `${at}.fields.${field.name}: a ${t} source cannot produce ` +
            `the ${field.type} that ${rule.event}.${field.name} must be`,
        );
      }
      checkRefs(src, `${at}.fields.${field.name}`, rules, problems);
    }
    if (rule.date) checkRefs(rule.date, `${at}.date`, rules, problems);
    if (!expected.includes(rule.orderKey)) {
      problems.push(`${at}.orderKey: "${rule.orderKey}" is not a field of ${rule.event}`);
    }
  });
  return problems;
}

/** A registry row is a state, not a change: its condition reads the row as it is now. */
function registryConditionProblems(cond: Condition, at: string, problems: string[]): void {
  if ('all' in cond) cond.all.forEach((c, i) => registryConditionProblems(c, `${at}.all[${i}]`, problems));
  else if ('any' in cond) cond.any.forEach((c, i) => registryConditionProblems(c, `${at}.any[${i}]`, problems));
  else if ('not' in cond) registryConditionProblems(cond.not, `${at}.not`, problems);
  else if ('change' in cond || 'changed' in cond) {
    problems.push(`${at}: a registry condition reads the row as it is; use column conditions, not change or changed`);
  } else if (cond.row === 'old') problems.push(`${at}.row: a registry condition reads the row as it is; omit row`);
}

function checkRefs(src: Source, at: string, rules: RulesFile, problems: string[]): void {
  if ('lookup' in src) {
    const dir = rules.directories[src.lookup.directory];
    if (!dir) {
      problems.push(
        `${at}.lookup.directory: no directory "${src.lookup.directory}" ` +
          `(defined: ${Object.keys(rules.directories).join(', ') || 'none'})`,
      );
    } else if (src.lookup.level !== undefined && !dir.parent) {
      problems.push(
        `${at}.lookup.level: directory "${src.lookup.directory}" has no parent column, so it has no levels`,
      );
    }
    checkRefs(src.lookup.key, `${at}.lookup.key`, rules, problems);
  } else if ('remembered' in src) {
    if (!rules.memories[src.remembered.memory]) {
      problems.push(
        `${at}.remembered.memory: no memory "${src.remembered.memory}" ` +
          `(defined: ${Object.keys(rules.memories).join(', ') || 'none'})`,
      );
    }
    checkRefs(src.remembered.key, `${at}.remembered.key`, rules, problems);
  } else if ('coalesce' in src) {
    src.coalesce.forEach((s, j) => checkRefs(s, `${at}.coalesce[${j}]`, rules, problems));
  } else if ('secondsBetween' in src) {
    src.secondsBetween.forEach((s, j) => checkRefs(s, `${at}.secondsBetween[${j}]`, rules, problems));
  }
}
