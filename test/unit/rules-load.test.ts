import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_NAMES } from '../../src/domain/events.js';
import { BridgeError, type ErrorCode } from '../../src/errors.js';
import { DEFAULT_RULES } from '../../src/rules/default-rules.js';
import { defaultRules, loadRulesFile, parseRules, validateRules } from '../../src/rules/load.js';

// A small, complete rules file of our own (JSON-able), independent of the shipped defaults.
function minimal(): Record<string, unknown> {
  return {
    version: 1,
    registry: { table: 'ccdata.webhooks', key: 'id', eventColumn: 'event', urlColumn: 'url' },
    directories: {
      users: {
        table: 'ccdata.users',
        key: 'username',
        match: [{ column: 'username' }, { column: 'phone', pattern: '^SIP/(\\d+)$' }],
      },
      tree: { table: 'ccdata.dispositions', key: 'id', parent: { column: 'parentId', root: 0 } },
    },
    memories: {
      caller: {
        table: 'ccrepo.queue_log_repo',
        when: { column: 'event', eq: 'ENTERQUEUE' },
        key: 'callid',
        value: 'data2',
      },
    },
    rules: [
      {
        id: 'log',
        event: 'AgentLog',
        table: 'ccrepo.queue_log_repo',
        on: ['insert'],
        when: { column: 'event', in: ['AGENTLOGIN', 'AGENTLOGOFF'] },
        date: { column: 'time' },
        orderKey: 'agent',
        fields: {
          agent: { lookup: { directory: 'users', key: { column: 'agent' }, column: 'username' } },
          isLogin: { test: { column: 'event', eq: 'AGENTLOGIN' } },
        },
      },
    ],
  };
}

type Json = Record<string, unknown>;
const rule0 = (r: Json): Json => (r.rules as Json[])[0]!;
const fields0 = (r: Json): Json => rule0(r).fields as Json;

/** Asserts that `fn` throws a BridgeError with `code` whose message contains every `parts`. */
function throwsCode(fn: () => unknown, code: ErrorCode, ...parts: string[]): BridgeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BridgeError, `expected a BridgeError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of parts)
    assert.ok(caught.message.includes(p), `message lacks ${JSON.stringify(p)}:\n${caught.message}`);
  assert.equal(typeof caught.hint, 'string');
  return caught;
}

const invalid = (raw: unknown, ...parts: string[]): BridgeError =>
  throwsCode(() => validateRules(raw, 'my-rules.yaml'), 'UCW_ERR_RULES_INVALID', 'my-rules.yaml', ...parts);

void describe('validateRules: accepted input', () => {
  void it('accepts the shipped defaults, covering all six events with unique ids', () => {
    const rules = defaultRules();
    assert.deepEqual([...new Set(rules.rules.map((r) => r.event))].sort(), [...EVENT_NAMES].sort());
    assert.equal(new Set(rules.rules.map((r) => r.id)).size, rules.rules.length);
    assert.equal(rules.sourceTimezone, 'UTC');
    assert.ok(Object.isFrozen(rules));
    // Defaults filled in for memories.
    assert.equal(rules.memories.callerByCallid?.maxEntries, 100_000);
    assert.equal(rules.memories.callerByCallid?.fallbackQuery, true);
    // The input object is not mutated by validation.
    assert.equal('maxEntries' in (DEFAULT_RULES.memories as Record<string, Json>).callerByCallid!, false);
  });

  void it('accepts our minimal rules and fills defaults (sourceTimezone UTC)', () => {
    const rules = validateRules(minimal(), 'x');
    assert.equal(rules.sourceTimezone, 'UTC');
    assert.equal(rules.rules[0]?.id, 'log');
    assert.equal(rules.memories.caller?.maxEntries, 100_000);
  });

  void it('accepts a rule without id (the event name is the id) and a non-UTC source zone', () => {
    const raw = minimal();
    delete rule0(raw).id;
    raw.sourceTimezone = 'America/Montevideo';
    const rules = validateRules(raw, 'x');
    assert.equal(rules.rules[0]?.id, undefined);
    assert.equal(rules.sourceTimezone, 'America/Montevideo');
  });
});

void describe('parseRules: JSON and YAML', () => {
  void it('accepts JSON text, also with leading whitespace', () => {
    const rules = parseRules(`  \n${JSON.stringify(minimal(), null, 2)}`, 'rules.json');
    assert.equal(rules.rules[0]?.event, 'AgentLog');
  });

  void it('accepts YAML flow style that starts like JSON but is not JSON', () => {
    const m = minimal();
    const flow =
      `{version: 1, registry: ${JSON.stringify(m.registry)}, directories: ${JSON.stringify(m.directories)}, ` +
      `memories: ${JSON.stringify(m.memories)}, rules: ${JSON.stringify(m.rules)}}`;
    assert.throws(() => JSON.parse(flow));
    assert.equal(parseRules(flow, 'rules.yaml').rules.length, (m.rules as unknown[]).length);
  });

  void it('accepts YAML text equivalent to the JSON', () => {
    const yaml = `
version: 1
sourceTimezone: America/Montevideo
registry: { table: ccdata.webhooks, key: id, eventColumn: event, urlColumn: url }
directories:
  users:
    table: ccdata.users
    key: username
memories: {}
rules:
  - id: log
    event: AgentLog
    table: ccrepo.queue_log_repo
    on: [insert]
    when: { column: event, in: [AGENTLOGIN, AGENTLOGOFF] }
    orderKey: agent
    fields:
      agent: { lookup: { directory: users, key: { column: agent }, column: username } }
      isLogin: { test: { column: event, eq: AGENTLOGIN } }
`;
    const rules = parseRules(yaml, 'rules.yaml');
    assert.equal(rules.sourceTimezone, 'America/Montevideo');
    assert.deepEqual(rules.rules[0]?.on, ['insert']);
    assert.deepEqual(rules.rules[0]?.fields.isLogin, { test: { column: 'event', eq: 'AGENTLOGIN' } });
  });

  void it('non-JSON garbage starting like JSON -> UCW_ERR_RULES_PARSE naming the origin', () => {
    throwsCode(() => parseRules('{ "version": 1, ', 'bad.json'), 'UCW_ERR_RULES_PARSE', 'bad.json');
    throwsCode(() => parseRules('[1, 2', 'bad.json'), 'UCW_ERR_RULES_PARSE', 'bad.json');
  });

  void it('YAML garbage -> UCW_ERR_RULES_PARSE', () => {
    throwsCode(() => parseRules('rules: [unclosed\n  - x: : y', 'bad.yaml'), 'UCW_ERR_RULES_PARSE', 'bad.yaml');
    throwsCode(() => parseRules('a: 1\na: 2\n', 'dup.yaml'), 'UCW_ERR_RULES_PARSE', 'dup.yaml');
    throwsCode(() => parseRules('\tversion: 1', 'tab.yaml'), 'UCW_ERR_RULES_PARSE');
  });

  void it('a top level that is not an object -> UCW_ERR_RULES_PARSE', () => {
    throwsCode(() => parseRules('just some words', 'w.yaml'), 'UCW_ERR_RULES_PARSE', 'top level');
    throwsCode(() => parseRules('', 'empty.yaml'), 'UCW_ERR_RULES_PARSE');
    throwsCode(() => parseRules('[]', 'arr.json'), 'UCW_ERR_RULES_PARSE', 'top level');
    throwsCode(() => parseRules('- a\n- b\n', 'arr.yaml'), 'UCW_ERR_RULES_PARSE', 'top level');
  });

  void it('valid syntax but invalid rules -> UCW_ERR_RULES_INVALID (not PARSE)', () => {
    throwsCode(() => parseRules('version: 1\n', 'v.yaml'), 'UCW_ERR_RULES_INVALID', 'registry', 'rules');
    throwsCode(() => parseRules('{"version": 2}', 'v.json'), 'UCW_ERR_RULES_INVALID', 'version');
  });
});

void describe('validateRules: UCW_ERR_RULES_INVALID with a path', () => {
  void it('unknown top-level key', () => {
    const raw = minimal();
    raw.extras = true;
    invalid(raw, '(top level)', '"extras"');
  });

  void it('unknown event name', () => {
    const raw = minimal();
    rule0(raw).event = 'AgentLogin';
    invalid(raw, 'rules[0].event');
  });

  void it('unknown key inside a rule', () => {
    const raw = minimal();
    rule0(raw).condition = { column: 'event', eq: 'x' };
    invalid(raw, 'rules[0]', '"condition"');
  });

  void it('a field missing', () => {
    const raw = minimal();
    delete fields0(raw).isLogin;
    invalid(raw, 'rules[0].fields.isLogin: missing');
  });

  void it('an extra field not in the spec', () => {
    const raw = minimal();
    fields0(raw).campaign = { column: 'queuename' };
    invalid(raw, 'rules[0].fields.campaign', 'AgentLog has no field "campaign"');
  });

  void it('a boolean field fed by a string constant (and a number field by a boolean test)', () => {
    const raw = minimal();
    fields0(raw).isLogin = { const: 'true' };
    invalid(raw, 'rules[0].fields.isLogin', 'string source', 'boolean');

    const fin = minimal();
    (fin.rules as Json[]).push({
      id: 'fin',
      event: 'FinishInteraction',
      table: 'ccrepo.interactions',
      on: ['update'],
      orderKey: 'guid',
      fields: {
        guid: { column: 'guid' },
        campaign: { column: 'campaign' },
        agent: { column: 'agent' },
        channel: { column: 'channel' },
        clientId: { const: null },
        startDate: { column: 'start_date' },
        endDate: { column: 'end_date' },
        duration: { test: { column: 'finished', truthy: true } },
      },
    });
    invalid(fin, 'rules[1].fields.duration', 'boolean source', 'number');
    // ...and the same rule is fine with a number source.
    ((fin.rules as Json[])[1]!.fields as Json).duration = {
      secondsBetween: [{ column: 'start_date' }, { column: 'end_date' }],
    };
    assert.equal(validateRules(fin, 'x').rules.length, 2);
  });

  void it('a coalesce mixing types is checked as a whole; a null constant fits any field', () => {
    const raw = minimal();
    fields0(raw).isLogin = { coalesce: [{ const: null }, { const: 'yes' }] };
    invalid(raw, 'rules[0].fields.isLogin', 'string source');
    fields0(raw).isLogin = { coalesce: [{ column: 'x' }, { const: false }] };
    assert.ok(validateRules(raw, 'x'));
    fields0(raw).isLogin = { const: null };
    assert.ok(validateRules(raw, 'x'));
  });

  void it('orderKey not a field', () => {
    const raw = minimal();
    rule0(raw).orderKey = 'guid';
    invalid(raw, 'rules[0].orderKey', '"guid" is not a field of AgentLog');
  });

  void it('a lookup of an undefined directory (also nested in a coalesce and in `date`)', () => {
    const raw = minimal();
    fields0(raw).agent = {
      coalesce: [
        { lookup: { directory: 'agents', key: { column: 'agent' }, column: 'username' } },
        { column: 'agent' },
      ],
    };
    invalid(raw, 'rules[0].fields.agent.coalesce[0].lookup.directory', 'no directory "agents"', 'users, tree');

    const d = minimal();
    rule0(d).date = { lookup: { directory: 'calendar', key: { column: 'time' }, column: 'x' } };
    invalid(d, 'rules[0].date.lookup.directory', 'no directory "calendar"');
  });

  void it('a `level` lookup on a non-tree directory', () => {
    const raw = minimal();
    fields0(raw).agent = { lookup: { directory: 'users', key: { column: 'agent' }, column: 'username', level: 1 } };
    invalid(raw, 'rules[0].fields.agent.lookup.level', '"users" has no parent column');
    // The same lookup on the tree directory is fine.
    fields0(raw).agent = { lookup: { directory: 'tree', key: { column: 'agent' }, column: 'value', level: 2 } };
    assert.ok(validateRules(raw, 'x'));
  });

  void it('an unknown memory (also inside a lookup key)', () => {
    const raw = minimal();
    fields0(raw).agent = { remembered: { memory: 'callers', key: { column: 'callid' } } };
    invalid(raw, 'rules[0].fields.agent.remembered.memory', 'no memory "callers"', '(defined: caller)');

    const nested = minimal();
    fields0(nested).agent = {
      lookup: {
        directory: 'users',
        key: { remembered: { memory: 'nope', key: { column: 'callid' } } },
        column: 'username',
      },
    };
    invalid(nested, 'rules[0].fields.agent.lookup.key.remembered.memory', 'no memory "nope"');
  });

  void it('duplicate rule ids, explicit or defaulted to the event name', () => {
    const raw = minimal();
    (raw.rules as Json[]).push(structuredClone(rule0(raw)));
    invalid(raw, 'rules[1].id', '"log" is also the id of rules[0]');

    const implicit = minimal();
    delete rule0(implicit).id;
    const second = structuredClone(rule0(implicit));
    (implicit.rules as Json[]).push(second);
    invalid(implicit, 'rules[1].id', '"AgentLog" is also the id of rules[0]');
    second.id = 'log_again';
    assert.equal(validateRules(implicit, 'x').rules.length, 2);
  });

  void it('bad regex pattern in a directory match', () => {
    const raw = minimal();
    (((raw.directories as Json).users as Json).match as Json[])[1]!.pattern = '^SIP/(\\d+';
    invalid(raw, 'directories.users.match[1].pattern', 'valid regular expression');
  });

  void it('bad time zone', () => {
    const raw = minimal();
    raw.sourceTimezone = 'Mars/Olympus_Mons';
    invalid(raw, 'sourceTimezone', 'IANA time zone');
    raw.sourceTimezone = '';
    invalid(raw, 'sourceTimezone');
  });

  void it('schema-level problems: version, table names, identifiers, condition operators, empty lists', () => {
    const cases: Array<[string, (r: Json) => void, string]> = [
      ['version 2', (r) => (r.version = 2), 'version'],
      ['unqualified table', (r) => (rule0(r).table = 'queue_log_repo'), 'rules[0].table'],
      ['SQL in an identifier', (r) => ((r.registry as Json).urlColumn = 'url; DROP TABLE x'), 'registry.urlColumn'],
      ['bad change kind', (r) => (rule0(r).on = ['upsert']), 'rules[0].on[0]'],
      ['empty on', (r) => (rule0(r).on = []), 'rules[0].on'],
      ['no rules', (r) => (r.rules = []), 'rules'],
      ['two operators', (r) => (rule0(r).when = { column: 'event', eq: 'A', ne: 'B' }), 'rules[0].when'],
      [
        'bad json path',
        (r) => (fields0(r).agent = { json: { column: 'data', path: 'agent.name' } }),
        'rules[0].fields.agent',
      ],
      [
        'memory when with two operators',
        (r) => (((r.memories as Json).caller as Json).when = { column: 'event', eq: 'A', in: ['B'] }),
        'memories.caller.when',
      ],
      ['unknown directory key', (r) => (((r.directories as Json).users as Json).cache = true), 'directories.users'],
      [
        'registry table mirrored as a directory',
        (r) => (((r.directories as Json).users as Json).table = 'ccdata.webhooks'),
        'directories.users.table',
      ],
      ['empty orderKey', (r) => (rule0(r).orderKey = ''), 'rules[0].orderKey'],
      [
        'registry condition with two operators',
        (r) => ((r.registry as Json).when = { column: 'user', eq: 'a', ne: 'b' }),
        'registry.when',
      ],
      [
        'registry condition on a change',
        (r) => ((r.registry as Json).when = { all: [{ column: 'user', eq: 'a' }, { change: 'update' }] }),
        'registry.when.all[1]',
      ],
      [
        'registry condition on the old row',
        (r) => ((r.registry as Json).when = { not: { column: 'user', row: 'old', eq: 'a' } }),
        'registry.when.not.row',
      ],
    ];
    for (const [name, mutate, path] of cases) {
      const raw = minimal();
      mutate(raw);
      const err = invalid(raw, path);
      assert.ok(Array.isArray(err.details?.problems), name);
    }
  });

  void it('lists every problem, not only the first', () => {
    const raw = minimal();
    rule0(raw).orderKey = 'nope';
    fields0(raw).extra = { const: 1 };
    delete fields0(raw).isLogin;
    const err = invalid(raw, 'rules[0].orderKey', 'rules[0].fields.extra', 'rules[0].fields.isLogin');
    assert.equal((err.details?.problems as string[]).length, 3);
  });
});

void describe('loadRulesFile', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-rules-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  void it('a missing path -> UCW_ERR_RULES_READ naming the path', () => {
    const path = join(dir, 'does-not-exist.yaml');
    throwsCode(() => loadRulesFile(path), 'UCW_ERR_RULES_READ', path);
  });

  void it('a directory instead of a file -> UCW_ERR_RULES_READ', () => {
    throwsCode(() => loadRulesFile(dir), 'UCW_ERR_RULES_READ');
  });

  void it('reads JSON and YAML files; errors name the file', () => {
    const json = join(dir, 'rules.json');
    writeFileSync(json, JSON.stringify(minimal()));
    assert.equal(loadRulesFile(json).rules[0]?.id, 'log');

    const yaml = join(dir, 'rules.yaml');
    writeFileSync(yaml, 'version: 1\nregistry: {table: a.b, key: id, eventColumn: event, urlColumn: url}\nrules: []\n');
    throwsCode(() => loadRulesFile(yaml), 'UCW_ERR_RULES_INVALID', yaml, 'rules');

    const garbage = join(dir, 'garbage.json');
    writeFileSync(garbage, '{ nope');
    throwsCode(() => loadRulesFile(garbage), 'UCW_ERR_RULES_PARSE', garbage);
  });
});
