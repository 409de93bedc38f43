import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Row } from '../../src/domain/row-change.js';
import { MAX_URL_LENGTH, Registry, urlProblem, type RegistryProblem } from '../../src/registry/registry.js';

const DEF = { table: 'ccdata.webhooks', key: 'id', eventColumn: 'event', urlColumn: 'url' } as const;

/** A ccdata.webhooks row as the reference schema has it. */
function hook(id: number, event: string, url: string | null): Row {
  return { id, name: event, description: null, event, url, user: null };
}

/** The six rows the reference schema ships, all with an empty url. */
const SHIPPED: Row[] = [
  hook(1, 'AgentRingNoAnswer', ''),
  hook(2, 'AgentLog', ''),
  hook(3, 'AgentBreak', ''),
  hook(4, 'FinishInteraction', ''),
  hook(5, 'InteractionDisposition', ''),
  hook(6, 'AssignInteraction', ''),
];

function registry(rows: Row[] = SHIPPED): { reg: Registry; problems: RegistryProblem[] } {
  const problems: RegistryProblem[] = [];
  const reg = new Registry(DEF, (p) => problems.push(p));
  reg.load(rows);
  return { reg, problems };
}

const set = (reg: Registry, row: Row): void => {
  const id = row.id as number;
  const current = [...reg.entries()].find(([pk]) => pk === String(id))?.[1] ?? null;
  reg.apply(current, row);
};

void describe('urlProblem', () => {
  void it('accepts http and https URLs', () => {
    assert.equal(urlProblem('http://receiver.example/hook'), undefined);
    assert.equal(urlProblem('https://receiver.example:8443/a/b?x=1#f'), undefined);
    assert.equal(urlProblem('http://127.0.0.1:9000/'), undefined);
  });

  void it('names each kind of problem', () => {
    assert.equal(urlProblem('ftp://files.example/x'), 'url scheme ftp: is not http or https');
    assert.equal(urlProblem('not a url'), 'url is not a valid absolute URL');
    assert.equal(urlProblem('/relative/path'), 'url is not a valid absolute URL');
    assert.equal(
      urlProblem('https://user:pass@receiver.example/'),
      'url carries credentials (user:password@); use a signing secret instead',
    );
    assert.equal(
      urlProblem('https://token@receiver.example/'),
      'url carries credentials (user:password@); use a signing secret instead',
    );
    const long = `https://receiver.example/${'a'.repeat(MAX_URL_LENGTH)}`;
    assert.equal(urlProblem(long), `url is ${long.length} characters long (limit ${MAX_URL_LENGTH})`);
    const justFits = `https://r.example/${'a'.repeat(MAX_URL_LENGTH - 'https://r.example/'.length)}`;
    assert.equal(justFits.length, MAX_URL_LENGTH);
    assert.equal(urlProblem(justFits), undefined);
  });
});

void describe('Registry', () => {
  void it('the shipped table (empty urls) registers nothing and reports nothing', () => {
    const { reg, problems } = registry();
    assert.equal(reg.size, 0);
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.deepEqual(problems, []);
    assert.equal([...reg.entries()].length, 6);
  });

  void it('an empty, blank or NULL url means not registered (even with an unknown event)', () => {
    const { reg, problems } = registry([
      hook(1, 'AgentLog', null),
      hook(2, 'AgentLog', '   '),
      hook(3, 'Nope', ''),
      hook(4, 'Nope', null),
    ]);
    assert.equal(reg.size, 0);
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.deepEqual(problems, []);
  });

  void it('routes each event to its urls; several rows for one event give several urls in row order', () => {
    const { reg, problems } = registry([
      ...SHIPPED.slice(0, 1),
      hook(2, 'AgentLog', 'https://a.example/log'),
      hook(3, 'AgentBreak', ' https://a.example/break '),
      hook(10, 'AgentLog', 'http://b.example/log'),
      hook(9, 'AgentLog', 'https://c.example/log'),
    ]);
    assert.deepEqual(reg.urlsFor('AgentLog'), [
      'https://a.example/log',
      'https://c.example/log',
      'http://b.example/log',
    ]);
    assert.deepEqual(reg.urlsFor('AgentBreak'), ['https://a.example/break']);
    assert.deepEqual(reg.urlsFor('FinishInteraction'), []);
    assert.equal(reg.size, 4);
    assert.deepEqual(problems, []);
  });

  void it('a duplicate (event, url) is delivered once and reported once', () => {
    const { reg, problems } = registry([
      hook(1, 'AgentLog', 'https://a.example/x'),
      hook(2, 'AgentLog', 'https://a.example/x'),
      hook(3, 'AgentBreak', 'https://a.example/x'),
    ]);
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/x']);
    assert.deepEqual(reg.urlsFor('AgentBreak'), ['https://a.example/x']);
    assert.equal(reg.size, 2);
    assert.deepEqual(problems, [
      {
        rowId: '2',
        code: 'UCW_ERR_REGISTRY_BAD_ROW',
        reason: 'duplicate of row 1 (same event and url); delivered once',
      },
    ]);
    // Unrelated changes do not repeat the report.
    set(reg, hook(4, 'FinishInteraction', 'https://f.example/'));
    set(reg, hook(4, 'FinishInteraction', 'https://g.example/'));
    assert.equal(problems.length, 1);
    // Deleting the first row makes the duplicate the registration, silently.
    reg.apply(hook(1, 'AgentLog', 'https://a.example/x'), null);
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/x']);
    assert.equal(problems.length, 1);
  });

  void it('reports each kind of bad row once, with its row id and code, and skips it', () => {
    const bad = [
      hook(11, 'AgentLogin', 'https://a.example/'),
      hook(12, 'AgentLog', 'ftp://a.example/'),
      hook(13, 'AgentBreak', 'http//missing-colon'),
      hook(14, 'FinishInteraction', 'https://user:secret@a.example/'),
      hook(15, 'InteractionDisposition', `https://a.example/${'x'.repeat(MAX_URL_LENGTH)}`),
    ];
    const { reg, problems } = registry([...bad, hook(16, 'AgentLog', 'https://ok.example/')]);
    assert.deepEqual(
      problems.map((p) => [p.rowId, p.code]),
      [
        ['11', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['12', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['13', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['14', 'UCW_ERR_REGISTRY_BAD_ROW'],
        ['15', 'UCW_ERR_REGISTRY_BAD_ROW'],
      ],
    );
    assert.equal(problems[0]!.reason, 'event "AgentLogin" is not one of the six uContact events');
    assert.equal(problems[1]!.reason, 'url scheme ftp: is not http or https');
    assert.equal(problems[2]!.reason, 'url is not a valid absolute URL');
    assert.match(problems[3]!.reason, /credentials/);
    assert.doesNotMatch(problems[3]!.reason, /secret@/, 'the reason must not echo the credentials');
    assert.match(problems[4]!.reason, /characters long \(limit 256\)/);
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://ok.example/']);
    assert.equal(reg.size, 1);

    // Unrelated inserts, updates and deletes do not report them again.
    set(reg, hook(20, 'AgentBreak', 'https://b.example/'));
    set(reg, hook(20, 'AgentBreak', 'https://c.example/'));
    reg.apply(hook(20, 'AgentBreak', 'https://c.example/'), null);
    reg.load([...bad, hook(16, 'AgentLog', 'https://ok.example/')]);
    assert.equal(problems.length, 5);
  });

  void it('an update changing a url takes effect at once', () => {
    const { reg } = registry();
    set(reg, hook(2, 'AgentLog', 'https://a.example/v1'));
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/v1']);
    set(reg, hook(2, 'AgentLog', 'https://a.example/v2'));
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/v2']);
    set(reg, hook(2, 'AgentBreak', 'https://a.example/v2'));
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.deepEqual(reg.urlsFor('AgentBreak'), ['https://a.example/v2']);
    set(reg, hook(2, 'AgentBreak', ''));
    assert.deepEqual(reg.urlsFor('AgentBreak'), []);
    assert.equal(reg.size, 0);
  });

  void it('an update changing the primary key moves the row', () => {
    const { reg } = registry([hook(1, 'AgentLog', 'https://a.example/')]);
    reg.apply(hook(1, 'AgentLog', 'https://a.example/'), hook(7, 'AgentLog', 'https://a.example/'));
    assert.deepEqual(
      [...reg.entries()].map(([pk]) => pk),
      ['7'],
    );
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/']);
  });

  void it('a delete unregisters', () => {
    const { reg } = registry([hook(1, 'AgentLog', 'https://a.example/'), hook(2, 'AgentLog', 'https://b.example/')]);
    reg.apply(hook(1, 'AgentLog', 'https://a.example/'), null);
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://b.example/']);
    reg.apply(hook(2, 'AgentLog', 'https://b.example/'), null);
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.equal([...reg.entries()].length, 0);
  });

  void it('a bad row fixed later stops being reported and is used; broken again, it is reported again', () => {
    const { reg, problems } = registry([hook(1, 'AgentLog', 'ftp://a.example/')]);
    assert.equal(problems.length, 1);
    set(reg, hook(1, 'AgentLog', 'https://a.example/'));
    assert.deepEqual(reg.urlsFor('AgentLog'), ['https://a.example/']);
    assert.equal(problems.length, 1);
    set(reg, hook(2, 'AgentBreak', 'https://b.example/'));
    assert.equal(problems.length, 1);
    set(reg, hook(1, 'AgentLog', 'mailto:ops@example.com'));
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.deepEqual(problems.slice(1), [
      { rowId: '1', code: 'UCW_ERR_REGISTRY_BAD_ROW', reason: 'url scheme mailto: is not http or https' },
    ]);
  });

  void it('a bad row that turns bad in another way is reported with the new reason', () => {
    const { reg, problems } = registry([hook(1, 'AgentLog', 'ftp://a.example/')]);
    set(reg, hook(1, 'AgentLog', 'https://u:p@a.example/'));
    assert.deepEqual(
      problems.map((p) => p.rowId),
      ['1', '1'],
    );
    assert.match(problems[1]!.reason, /credentials/);
  });

  void it('accepts numeric, bigint and string primary keys and orders rows numerically', () => {
    const { reg } = registry([
      { id: '10', event: 'AgentLog', url: 'https://ten.example/' },
      { id: 9n, event: 'AgentLog', url: 'https://nine.example/' },
      { id: 2, event: 'AgentLog', url: Buffer.from('https://two.example/') },
      { id: null, event: 'AgentLog', url: 'https://no-key.example/' },
    ]);
    assert.deepEqual(reg.urlsFor('AgentLog'), [
      'https://two.example/',
      'https://nine.example/',
      'https://ten.example/',
    ]);
  });
});

void describe('Registry with a condition (registry.when)', () => {
  const marked = (id: number, event: string, url: string, user: string | null): Row => ({
    ...hook(id, event, url),
    user,
  });
  const withWhen = (): { reg: Registry; problems: RegistryProblem[] } => {
    const problems: RegistryProblem[] = [];
    const reg = new Registry({ ...DEF, when: { column: 'user', eq: 'ucontact-webhooks' } }, (p) => problems.push(p));
    reg.load([
      marked(1, 'AgentLog', 'http://bridge.example/log', 'ucontact-webhooks'),
      marked(2, 'AgentBreak', 'http://native.example/break', null),
      marked(3, 'AgentBreak', 'http://native.example/break2', 'admin'),
    ]);
    return { reg, problems };
  };

  void it('registers only the rows the condition matches, and keeps the columns it reads', () => {
    const { reg, problems } = withWhen();
    assert.deepEqual(reg.urlsFor('AgentLog'), ['http://bridge.example/log']);
    assert.deepEqual(reg.urlsFor('AgentBreak'), []);
    assert.equal(reg.size, 1);
    assert.deepEqual(problems, []);
    assert.deepEqual(reg.columns, ['id', 'event', 'url', 'user']);
    assert.deepEqual(Object.keys([...reg.entries()][0]![1]).sort(), ['event', 'id', 'url', 'user']);
  });

  void it('a change of the column the condition reads registers or unregisters the row', () => {
    const { reg } = withWhen();
    set(reg, marked(2, 'AgentBreak', 'http://native.example/break', 'ucontact-webhooks'));
    assert.deepEqual(reg.urlsFor('AgentBreak'), ['http://native.example/break']);
    set(reg, marked(1, 'AgentLog', 'http://bridge.example/log', null));
    assert.deepEqual(reg.urlsFor('AgentLog'), []);
    assert.equal(reg.size, 1);
  });

  void it('a row the condition leaves out is not reported, whatever its url or event', () => {
    const problems: RegistryProblem[] = [];
    const reg = new Registry({ ...DEF, when: { column: 'user', eq: 'ucontact-webhooks' } }, (p) => problems.push(p));
    reg.load([marked(1, 'NoSuchEvent', 'ftp://x', 'admin')]);
    assert.deepEqual(problems, []);
    assert.equal(reg.size, 0);
  });
});
