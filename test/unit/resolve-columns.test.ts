import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRules } from '../../src/rules/load.js';
import { columnsUsed } from '../../src/rules/columns.js';
import { resolveColumns } from '../../src/rules/resolve-columns.js';
import { checkRulesAgainstSchema } from '../../src/rules/schema-check.js';
import { BridgeError } from '../../src/errors.js';

/** The live schema the defaults read, with every column name upper-cased. */
function upperCased(): Map<string, Set<string>> {
  const live = new Map<string, Set<string>>();
  for (const [table, cols] of columnsUsed(defaultRules()))
    live.set(table, new Set([...cols].map((c) => c.toUpperCase())));
  return live;
}

void describe('resolveColumns', () => {
  void it('spells every column of every role as the live schema does', () => {
    const rules = { ...defaultRules(), registry: { ...defaultRules().registry, when: { column: 'user', eq: 'x' } } };
    const live = upperCased();
    live.get('ccdata.webhooks')!.add('User');
    const { rules: resolved, problems } = resolveColumns(rules, live);
    assert.deepEqual(problems, []);
    assert.deepEqual(resolved.registry, {
      table: 'ccdata.webhooks',
      key: 'ID',
      eventColumn: 'EVENT',
      urlColumn: 'URL',
      when: { column: 'User', eq: 'x' },
    });
    assert.equal(resolved.directories.users!.key, 'USERNAME');
    assert.deepEqual(
      resolved.directories.users!.match!.map((m) => m.column),
      ['USERNAME', 'PHONE'],
    );
    assert.equal(resolved.directories.dispositions!.parent!.column, 'PARENTID');
    const mem = resolved.memories.callerByCallid!;
    assert.deepEqual([mem.key, mem.value, mem.when!.column, mem.orderBy], ['CALLID', 'DATA2', 'EVENT', 'ID']);
    // Every column the resolved rules name is one the live schema has, spelled exactly.
    for (const [table, cols] of columnsUsed(resolved)) {
      for (const c of cols) assert.ok(live.get(table)!.has(c), `${table}.${c}`);
    }
  });

  void it('names each missing column with its rules-file path, and a missing table once', () => {
    const rules = { ...defaultRules(), registry: { ...defaultRules().registry, when: { column: 'usr', eq: 'x' } } };
    const live = upperCased();
    live.delete('ccdata.dispositions');
    const { problems } = resolveColumns(rules, live);
    assert.deepEqual(problems, [
      'registry.when.column: column ccdata.webhooks.usr does not exist',
      'table ccdata.dispositions does not exist, or the bridge user cannot see it ' +
        '(GRANT SELECT ON ccdata.* TO the bridge user)',
    ]);
  });

  void it('checkRulesAgainstSchema returns the resolved rules, or throws UCW_ERR_RULES_SCHEMA', async () => {
    const resolved = await checkRulesAgainstSchema(defaultRules(), () => Promise.resolve(upperCased()));
    assert.equal(resolved.registry.key, 'ID');
    const live = upperCased();
    live.get('ccdata.webhooks')!.delete('ID');
    await assert.rejects(
      checkRulesAgainstSchema(defaultRules(), () => Promise.resolve(live)),
      (err: unknown) =>
        err instanceof BridgeError &&
        err.code === 'UCW_ERR_RULES_SCHEMA' &&
        err.message.includes('registry.key: column ccdata.webhooks.id does not exist'),
    );
  });
});
