// Checks a rules file against the live schema before any event is read: every table and column the
// rules name must exist (and be visible to the bridge user). A typo fails at start with the exact
// table and column, instead of silently producing nulls for every event.

import { BridgeError } from '../errors.js';
import { columnsUsed } from './columns.js';
import type { RulesFile } from './schema.js';

function schemaProblems(
  used: ReadonlyMap<string, ReadonlySet<string>>,
  live: ReadonlyMap<string, ReadonlySet<string>>,
): string[] {
  const problems: string[] = [];
  for (const [table, needed] of used) {
    const have = live.get(table);
    if (!have) {
      problems.push(
        `table ${table} does not exist, or the bridge user cannot see ` +
          `it (GRANT SELECT ON ${table.split('.')[0]}.* TO the bridge user)`,
      );
      continue;
    }
    for (const col of needed) if (!have.has(col)) problems.push(`column ${table}.${col} does not exist`);
  }
  return problems;
}

export async function checkRulesAgainstSchema(
  rules: RulesFile,
  columnsOf: (tables: readonly string[]) => Promise<Map<string, Set<string>>>,
): Promise<void> {
  const used = columnsUsed(rules);
  const problems = schemaProblems(used, await columnsOf([...used.keys()]));
  if (problems.length > 0) {
    throw new BridgeError(
      'UCW_ERR_RULES_SCHEMA',
      `the rules do not match the source schema:\n  - ${problems.join('\n  - ')}`,
      {
        hint:
          'Fix the table and column names in the rules file (`ucontact-webhooks ' +
          'rules print-default` shows the defaults), or grant SELECT on the tables.',
        details: { problems },
      },
    );
  }
}
