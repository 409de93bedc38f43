// Checks a rules file against the live schema before any event is read: every table and column the
// rules name must exist (and be visible to the bridge user). A typo fails at start with the exact
// table, column and rules-file path, instead of silently producing nulls for every event. Columns
// match case-insensitively (as in MySQL); the rules returned spell each as the server does.

import { BridgeError } from '../errors.js';
import { columnsUsed } from './columns.js';
import { resolveColumns } from './resolve-columns.js';
import type { RulesFile } from './schema.js';

/** What to do about a rules file that does not match the live schema. */
export const SCHEMA_HINT =
  'Fix the table and column names in the rules file (`ucontact-webhooks ' +
  'rules print-default` shows the defaults), or grant SELECT on the tables.';

export async function checkRulesAgainstSchema(
  rules: RulesFile,
  columnsOf: (tables: readonly string[]) => Promise<Map<string, Set<string>>>,
): Promise<RulesFile> {
  const used = columnsUsed(rules);
  const { rules: resolved, problems } = resolveColumns(rules, await columnsOf([...used.keys()]));
  if (problems.length > 0) {
    throw new BridgeError(
      'UCW_ERR_RULES_SCHEMA',
      `the rules do not match the source schema:\n  - ${problems.join('\n  - ')}`,
      { hint: SCHEMA_HINT, details: { problems } },
    );
  }
  return resolved;
}
