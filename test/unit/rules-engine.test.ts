import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventIdFor } from '../../src/domain/event-id.js';
import type { ChangeKind, Row, RowChange } from '../../src/domain/row-change.js';
import { DEFAULT_RULES } from '../../src/rules/default-rules.js';
import { MemoryMiss, RulesEngine, type EvaluatedEvent } from '../../src/rules/engine.js';
import { defaultRules, validateRules } from '../../src/rules/load.js';
import type { RulesFileInput } from '../../src/rules/schema.js';

// ---------------------------------------------------------------------------------------------------
// Fixtures: synthetic row changes for the reference schema (no database, no ../shared at run time).
// ---------------------------------------------------------------------------------------------------

const FILE = 'binlog.000001';
/** Binlog timestamp used unless a test gives another: 2026-03-02 14:10:00 UTC. */
const TS = Date.UTC(2026, 2, 2, 14, 10, 0);
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let nextPos = 1_000;

interface ChangeOpts {
  /** Transaction id; by default each change gets a transaction of its own. */
  txId?: string;
  ordinal?: number;
  timestampMs?: number;
}

function change(
  kind: ChangeKind,
  table: string,
  before: Row | null,
  after: Row | null,
  opts: ChangeOpts = {},
): RowChange {
  const [schema, name] = table.split('.') as [string, string];
  nextPos += 100;
  return {
    kind,
    schema,
    table: name,
    before,
    after,
    tx: { id: opts.txId ?? `pos:${FILE}:${nextPos}`, start: { file: FILE, pos: nextPos } },
    ordinal: opts.ordinal ?? 0,
    timestampMs: opts.timestampMs ?? TS,
  };
}

const ins = (table: string, after: Row, opts?: ChangeOpts): RowChange => change('insert', table, null, after, opts);
const upd = (table: string, before: Row, after: Row, opts?: ChangeOpts): RowChange =>
  change('update', table, before, after, opts);
const del = (table: string, before: Row, opts?: ChangeOpts): RowChange => change('delete', table, before, null, opts);

const USERS = 'ccdata.users';
const DISPOSITIONS = 'ccdata.dispositions';
const QUEUE_LOG = 'ccrepo.queue_log_repo';
const INTERACTIONS = 'ccrepo.interactions';

function user(username: string, phone: string | null, name: string | null): Row {
  return { username, phone, name, email: null, profile: 'agent' };
}

let queueLogId = 0;
/** A queue_log_repo row with the reference columns. */
function qlog(
  event: string,
  fields: Partial<Record<'time' | 'callid' | 'queuename' | 'agent' | 'data1' | 'data2', string | null>>,
): Row {
  queueLogId += 1;
  return {
    id: queueLogId,
    time: '2026-03-02 14:05:09.000',
    callid: '',
    queuename: '',
    agent: '',
    event,
    data1: null,
    data2: null,
    data3: null,
    data4: null,
    data5: null,
    ...fields,
  };
}

/** An interactions row with the reference columns. */
function interaction(fields: Record<string, unknown>): Row {
  return {
    id: 1,
    guid: 'g-1',
    start_date: '2026-03-02 14:00:00',
    end_date: null,
    campaign: 'Sales<-',
    channel: 'telephony',
    agent: 'jdoe',
    data: null,
    contact: null,
    clientId: '59891234567',
    disposition_id: null,
    dispositionIds: null,
    finished: 0,
    ...fields,
  };
}

function disposition(id: number, parentId: number, value: string): Row {
  return { id, parentId, value, campaign: null, channels: null, validAsFinal: 1, parentIds: null };
}

const noRuleErrors = (ruleId: string, err: unknown): void => {
  assert.fail(`rule ${ruleId} failed unexpectedly: ${String(err)}`);
};

/** An engine on the default rules with users jdoe (2001) and the 3-level dispositions tree loaded. */
function engine(zone = 'UTC'): RulesEngine {
  const e = new RulesEngine(defaultRules(), zone);
  e.observe(ins(USERS, user('jdoe', '2001', 'Jane Doe')));
  e.observe(ins(USERS, user('mgarcia', '2002', 'María José Núñez 😀')));
  // Sale > Closed > Card ; No sale > Price ; Wrong number (one level)
  for (const row of [
    disposition(1, 0, 'Sale'),
    disposition(2, 1, 'Closed'),
    disposition(3, 2, 'Card'),
    disposition(4, 0, 'No sale'),
    disposition(5, 4, 'Price'),
    disposition(6, 0, 'Wrong number'),
  ]) {
    e.observe(ins(DISPOSITIONS, row));
  }
  return e;
}

/** observe() then evaluate(), as the processor does. */
function run(e: RulesEngine, c: RowChange): EvaluatedEvent[] {
  e.observe(c);
  return e.evaluate(c, noRuleErrors);
}

function one(e: RulesEngine, c: RowChange): EvaluatedEvent {
  const events = run(e, c);
  assert.equal(events.length, 1, `expected exactly one event, got ${events.map((ev) => ev.name).join(', ') || 'none'}`);
  return events[0]!;
}

const bodies = (events: EvaluatedEvent[]): string[] => events.map((e) => e.body);

/** The event named `name` among those of `c`, after checking the names of all of them, in order. */
function named(e: RulesEngine, c: RowChange, names: readonly string[], name: string): EvaluatedEvent {
  const events = run(e, c);
  assert.deepEqual(
    events.map((ev) => ev.name),
    names,
  );
  return events.find((ev) => ev.name === name)!;
}

// ---------------------------------------------------------------------------------------------------

void describe('RulesEngine (default rules): AgentLog', () => {
  void it('turns AGENTLOGIN into isLogin true with the exact body, order key and occurrence time', () => {
    const e = engine();
    const ev = one(e, ins(QUEUE_LOG, qlog('AGENTLOGIN', { agent: 'jdoe', time: '2026-03-02 14:05:09.000' })));
    assert.equal(ev.body, '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"jdoe","isLogin":true}');
    assert.equal(ev.name, 'AgentLog');
    assert.equal(ev.ruleId, 'agent_log');
    assert.equal(ev.orderKey, 'agent:jdoe');
    assert.equal(ev.occurredAtMs, Date.UTC(2026, 2, 2, 14, 5, 9));
  });

  void it('turns AGENTLOGOFF into isLogin false', () => {
    const e = engine();
    const ev = one(e, ins(QUEUE_LOG, qlog('AGENTLOGOFF', { agent: 'jdoe', time: '2026-03-02 18:00:01.000' })));
    assert.equal(ev.body, '{"event":"AgentLog","date":"2026-03-02 18:00:01","agent":"jdoe","isLogin":false}');
  });

  void it('resolves a SIP/PJSIP channel in the agent column to the username', () => {
    const e = engine();
    const sip = one(e, ins(QUEUE_LOG, qlog('AGENTLOGIN', { agent: 'SIP/2001' })));
    assert.equal(sip.body, '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"jdoe","isLogin":true}');
    assert.equal(sip.orderKey, 'agent:jdoe');
    const pjsip = one(e, ins(QUEUE_LOG, qlog('AGENTLOGOFF', { agent: 'PJSIP/2002' })));
    assert.equal(pjsip.body, '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"mgarcia","isLogin":false}');
  });

  void it(
    'takes `date` from the time column with milliseconds ' + 'dropped (not rounded), not from the binlog timestamp',
    () => {
      const e = engine();
      const ev = one(
        e,
        ins(QUEUE_LOG, qlog('AGENTLOGIN', { agent: 'jdoe', time: '2026-03-02 14:05:09.987' }), {
          timestampMs: Date.UTC(2026, 2, 2, 20, 0, 0),
        }),
      );
      assert.equal(ev.body, '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"jdoe","isLogin":true}');
      assert.equal(ev.occurredAtMs, Date.UTC(2026, 2, 2, 14, 5, 9, 987));
    },
  );

  void it('writes `date` in the output zone: America/Montevideo is UTC-3', () => {
    const e = engine('America/Montevideo');
    const ev = one(e, ins(QUEUE_LOG, qlog('AGENTLOGIN', { agent: 'jdoe', time: '2026-03-02 14:05:09.000' })));
    assert.equal(ev.body, '{"event":"AgentLog","date":"2026-03-02 11:05:09","agent":"jdoe","isLogin":true}');
    // The instant itself does not depend on the output zone.
    assert.equal(ev.occurredAtMs, Date.UTC(2026, 2, 2, 14, 5, 9));
    const early = one(e, ins(QUEUE_LOG, qlog('AGENTLOGOFF', { agent: 'jdoe', time: '2026-03-02 01:30:00.000' })));
    assert.equal(early.body, '{"event":"AgentLog","date":"2026-03-01 22:30:00","agent":"jdoe","isLogin":false}');
  });

  void it('produces nothing for other queue_log events, for updates and deletes, or for unwatched tables', () => {
    const e = engine();
    for (const ev of ['ENTERQUEUE', 'CONNECT', 'COMPLETECALLER', 'agentlogin', 'ADDMEMBER']) {
      assert.deepEqual(run(e, ins(QUEUE_LOG, qlog(ev, { agent: 'jdoe', callid: 'c-x', data2: '1' }))), []);
    }
    const row = qlog('AGENTLOGIN', { agent: 'jdoe' });
    assert.deepEqual(run(e, upd(QUEUE_LOG, row, { ...row, data1: 'x' })), []);
    assert.deepEqual(run(e, del(QUEUE_LOG, row)), []);
    assert.deepEqual(run(e, ins('ccrepo.other', { event: 'AGENTLOGIN', agent: 'jdoe' })), []);
    assert.deepEqual(run(e, ins(USERS, user('zed', '2999', 'Zed'))), []);
  });
});

void describe('RulesEngine (default rules): AgentBreak', () => {
  void it('PAUSE is isBreak true with the motive from data1', () => {
    const e = engine();
    const ev = one(
      e,
      ins(QUEUE_LOG, qlog('PAUSE', { agent: 'jdoe', data1: 'Lunch', time: '2026-03-02 12:00:00.250' })),
    );
    assert.equal(
      ev.body,
      '{"event":"AgentBreak","date":"2026-03-02 12:00:00","agent":"jdoe","motive":"Lunch","isBreak":true}',
    );
    assert.equal(ev.orderKey, 'agent:jdoe');
    assert.equal(ev.ruleId, 'agent_break');
  });

  void it('UNPAUSE is isBreak false; a NULL data1 is a JSON null motive (never omitted)', () => {
    const e = engine();
    const ev = one(
      e,
      ins(QUEUE_LOG, qlog('UNPAUSE', { agent: 'SIP/2001', data1: 'Lunch', time: '2026-03-02 12:45:00.000' })),
    );
    assert.equal(
      ev.body,
      '{"event":"AgentBreak","date":"2026-03-02 12:45:00","agent":"jdoe","motive":"Lunch","isBreak":false}',
    );
    const noMotive = one(e, ins(QUEUE_LOG, qlog('UNPAUSE', { agent: 'jdoe', data1: null })));
    assert.equal(
      noMotive.body,
      '{"event":"AgentBreak","date":"2026-03-02 14:05:09","agent":"jdoe","motive":null,"isBreak":false}',
    );
  });

  void it('passes utf8mb4 text (accents, emoji, quotes) through exactly, also from a Buffer column value', () => {
    const e = engine();
    const motive = 'Almuerzo 🍔 café "rápido" ñ';
    const ev = one(e, ins(QUEUE_LOG, qlog('PAUSE', { agent: 'PJSIP/2002', data1: motive })));
    assert.equal(
      ev.body,
      '{"event":"AgentBreak","date":"2026-03-02 14:05:09","agent":"mgarcia",' +
        '"motive":"Almuerzo 🍔 café \\"rápido\\" ñ","isBreak":true}',
    );
    assert.equal((JSON.parse(ev.body) as { motive: string }).motive, motive);
    const fromBuffer = one(
      e,
      ins(QUEUE_LOG, { ...qlog('PAUSE', { agent: 'jdoe' }), data1: Buffer.from('Baño 🚻', 'utf8') }),
    );
    assert.equal(
      fromBuffer.body,
      '{"event":"AgentBreak","date":"2026-03-02 14:05:09","agent":"jdoe","motive":"Baño 🚻","isBreak":true}',
    );
  });
});

void describe('RulesEngine (default rules): AgentRingNoAnswer', () => {
  void it(
    'resolves SIP/2001 to username, phone and full name, ' + 'and callerIdNum from the ENTERQUEUE row of the callid',
    () => {
      const e = engine();
      assert.deepEqual(
        run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: '1709.42', queuename: 'Sales<-', data2: '59891234567' }))),
        [],
      );
      const ev = one(
        e,
        ins(
          QUEUE_LOG,
          qlog('RINGNOANSWER', { callid: '1709.42', queuename: 'Sales<-', agent: 'SIP/2001', data1: '15000' }),
        ),
      );
      assert.equal(
        ev.body,
        '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe","agentNumber":"2001",' +
          '"agentFullName":"Jane Doe","callerIdNum":"59891234567","campaign":"Sales<-"}',
      );
      assert.equal(ev.orderKey, 'agent:jdoe');
      assert.equal(ev.ruleId, 'agent_ring_no_answer');
    },
  );

  void it('resolves PJSIP/2001 and a plain username the same way', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-7', queuename: 'Support<-', data2: '099123456' })));
    const expected =
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe","agentNumber":"2001",' +
      '"agentFullName":"Jane Doe","callerIdNum":"099123456","campaign":"Support<-"}';
    assert.equal(
      one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-7', queuename: 'Support<-', agent: 'PJSIP/2001' }))).body,
      expected,
    );
    assert.equal(
      one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-7', queuename: 'Support<-', agent: 'jdoe' }))).body,
      expected,
    );
  });

  void it('passes a utf8mb4 full name through exactly', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-8', data2: '42' })));
    const ev = one(
      e,
      ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-8', queuename: 'Ventas<-', agent: 'SIP/2002' })),
    );
    assert.equal(
      ev.body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"mgarcia","agentNumber":"2002",' +
        '"agentFullName":"María José Núñez 😀","callerIdNum":"42","campaign":"Ventas<-"}',
    );
  });

  void it('throws MemoryMiss when the ENTERQUEUE was never seen; remember() then gives the value', () => {
    const e = engine();
    const c = ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-old', queuename: 'Sales<-', agent: 'SIP/2001' }));
    e.observe(c);
    assert.throws(
      () => e.evaluate(c, noRuleErrors),
      (err: unknown) => {
        assert.ok(err instanceof MemoryMiss);
        assert.equal(err.memory, 'callerByCallid');
        assert.equal(err.key, 'c-old');
        assert.equal(err.name, 'MemoryMiss');
        return true;
      },
    );
    const def = e.memoryDef('callerByCallid');
    assert.equal(def?.table, 'ccrepo.queue_log_repo');
    assert.equal(def?.key, 'callid');
    assert.equal(def?.value, 'data2');
    e.remember('callerByCallid', 'c-old', '59899000111');
    const [ev] = e.evaluate(c, noRuleErrors);
    assert.equal(
      ev?.body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe","agentNumber":"2001",' +
        '"agentFullName":"Jane Doe","callerIdNum":"59899000111","campaign":"Sales<-"}',
    );
  });

  void it('gives callerIdNum null when the fetch remembered null (no such row in the source)', () => {
    const e = engine();
    const c = ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-none', queuename: 'Sales<-', agent: 'jdoe' }));
    e.observe(c);
    assert.throws(() => e.evaluate(c, noRuleErrors), MemoryMiss);
    e.remember('callerByCallid', 'c-none', null);
    assert.deepEqual(bodies(e.evaluate(c, noRuleErrors)), [
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe",' +
        '"agentNumber":"2001","agentFullName":"Jane Doe","callerIdNum":null,"campaign":"Sales<-"}',
    ]);
  });

  void it('an ENTERQUEUE with a NULL data2 is remembered as null (no fetch needed)', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-anon', data2: null })));
    const ev = one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-anon', queuename: 'Sales<-', agent: 'jdoe' })));
    assert.match(ev.body, /"callerIdNum":null,/);
  });

  void it('only ENTERQUEUE rows feed the memory, and the latest ENTERQUEUE of a callid wins', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('CONNECT', { callid: 'c-9', data2: 'not-a-caller' })));
    const c = ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-9', queuename: 'Sales<-', agent: 'jdoe' }));
    e.observe(c);
    assert.throws(() => e.evaluate(c, noRuleErrors), MemoryMiss);
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-9', data2: '111' })));
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-9', data2: '222' })));
    assert.match(
      one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-9', agent: 'jdoe' }))).body,
      /"callerIdNum":"222",/,
    );
  });

  void it('an empty callid gives callerIdNum null without a fetch', () => {
    const e = engine();
    const ev = one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: '', queuename: 'Sales<-', agent: 'jdoe' })));
    assert.match(ev.body, /"callerIdNum":null,/);
  });

  void it('falls back to the raw agent string with null agentNumber/agentFullName for an unknown agent', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-u', data2: '555' })));
    const ev = one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-u', queuename: 'Sales<-', agent: 'SIP/9999' })));
    assert.equal(
      ev.body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"SIP/9999",' +
        '"agentNumber":null,"agentFullName":null,"callerIdNum":"555","campaign":"Sales<-"}',
    );
    assert.equal(ev.orderKey, 'agent:SIP/9999');
    const byName = one(
      e,
      ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-u', queuename: 'Sales<-', agent: 'nobody' })),
    );
    assert.equal(
      byName.body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"nobody",' +
        '"agentNumber":null,"agentFullName":null,"callerIdNum":"555","campaign":"Sales<-"}',
    );
  });

  void it('with fallbackQuery off a miss is null instead of a MemoryMiss', () => {
    const input = structuredClone(DEFAULT_RULES) as RulesFileInput & {
      memories: Record<string, { fallbackQuery?: boolean }>;
    };
    input.memories.callerByCallid!.fallbackQuery = false;
    const e = new RulesEngine(validateRules(input, 'test rules'), 'UTC');
    e.observe(ins(USERS, user('jdoe', '2001', 'Jane Doe')));
    const ev = one(e, ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-x', queuename: 'Sales<-', agent: 'jdoe' })));
    assert.match(ev.body, /"callerIdNum":null,/);
  });
});

void describe('RulesEngine (default rules): directory changes', () => {
  const ring = (agent: string): RowChange =>
    ins(QUEUE_LOG, qlog('RINGNOANSWER', { callid: 'c-d', queuename: 'Sales<-', agent }));

  void it('a renamed user is reflected from that change on', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-d', data2: '1' })));
    assert.match(one(e, ring('SIP/2001')).body, /"agentFullName":"Jane Doe",/);
    run(e, upd(USERS, user('jdoe', '2001', 'Jane Doe'), user('jdoe', '2001', 'Jane Q. Doe')));
    assert.equal(
      one(e, ring('SIP/2001')).body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"jdoe",' +
        '"agentNumber":"2001","agentFullName":"Jane Q. Doe","callerIdNum":"1","campaign":"Sales<-"}',
    );
  });

  void it('a changed extension moves the SIP/ resolution to the new extension', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-d', data2: '1' })));
    run(e, upd(USERS, user('jdoe', '2001', 'Jane Doe'), user('jdoe', '2101', 'Jane Doe')));
    assert.match(one(e, ring('SIP/2101')).body, /"agent":"jdoe","agentNumber":"2101","agentFullName":"Jane Doe"/);
    assert.match(one(e, ring('SIP/2001')).body, /"agent":"SIP\/2001","agentNumber":null,"agentFullName":null/);
  });

  void it('a deleted user falls back to the raw agent from that change on', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-d', data2: '1' })));
    run(e, del(USERS, user('jdoe', '2001', 'Jane Doe')));
    assert.equal(
      one(e, ring('SIP/2001')).body,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"SIP/2001",' +
        '"agentNumber":null,"agentFullName":null,"callerIdNum":"1","campaign":"Sales<-"}',
    );
    assert.equal(
      one(e, ins(QUEUE_LOG, qlog('AGENTLOGOFF', { agent: 'jdoe' }))).body,
      '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"jdoe","isLogin":false}',
    );
  });

  void it(
    'a shared extension stays with its first holder when ' + 'that holder is updated, and passes on when it is deleted',
    () => {
      const e = engine();
      run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-d', data2: '1' })));
      run(e, ins(USERS, user('hotdesk', '2001', 'Hot Desk')));
      assert.match(one(e, ring('SIP/2001')).body, /"agent":"jdoe",/);
      // Renaming the first holder must not hand its extension to the other user.
      run(e, upd(USERS, user('jdoe', '2001', 'Jane Doe'), user('jdoe', '2001', 'Jane Q. Doe')));
      assert.match(one(e, ring('SIP/2001')).body, /"agent":"jdoe","agentNumber":"2001","agentFullName":"Jane Q. Doe"/);
      run(e, del(USERS, user('jdoe', '2001', 'Jane Q. Doe')));
      assert.match(one(e, ring('SIP/2001')).body, /"agent":"hotdesk","agentNumber":"2001","agentFullName":"Hot Desk"/);
    },
  );

  void it('a renamed username (primary key update) resolves under the new name only', () => {
    const e = engine();
    run(e, ins(QUEUE_LOG, qlog('ENTERQUEUE', { callid: 'c-d', data2: '1' })));
    run(e, upd(USERS, user('jdoe', '2001', 'Jane Doe'), user('jane.doe', '2001', 'Jane Doe')));
    assert.match(one(e, ring('SIP/2001')).body, /"agent":"jane.doe","agentNumber":"2001"/);
    assert.match(one(e, ring('jdoe')).body, /"agent":"jdoe","agentNumber":null,"agentFullName":null/);
  });

  void it('a parent cycle in the dispositions tree does not repeat a label', () => {
    const e = engine();
    run(e, ins(DISPOSITIONS, disposition(30, 31, 'A')));
    run(e, ins(DISPOSITIONS, disposition(31, 30, 'B')));
    const leg = interaction({ finished: 1, end_date: '2026-03-02 14:05:09' });
    assert.match(
      one(e, upd(INTERACTIONS, leg, { ...leg, disposition_id: 30 })).body,
      /"dispositionId":30,"l1":"B","l2":"A","l3":null\}$/,
    );
  });

  void it('exposes the directories and watched tables', () => {
    const e = engine();
    assert.deepEqual(e.watchedTables().sort(), [DISPOSITIONS, USERS, INTERACTIONS, QUEUE_LOG].sort());
    assert.equal(e.directoryForTable(USERS), e.directories.get('users'));
    assert.equal(e.directories.get('users')?.size, 2);
    assert.equal(e.directories.get('dispositions')?.size, 6);
    assert.equal(e.directoryForTable(QUEUE_LOG), undefined);
  });
});

void describe('RulesEngine (default rules): FinishInteraction', () => {
  const started = interaction({ id: 10, guid: 'g-1', start_date: '2026-03-02 14:00:00', finished: 0 });
  const ended = { ...started, end_date: '2026-03-02 14:05:09', finished: 1 };

  void it('fires on the update where finished goes 0 -> 1, with formatted dates and whole-second duration', () => {
    const e = engine();
    // The leg's insert (with its agent) is an assignment, not a finish.
    assert.deepEqual(
      run(e, ins(INTERACTIONS, started)).map((ev) => ev.name),
      ['AssignInteraction'],
    );
    const ev = one(e, upd(INTERACTIONS, started, ended, { timestampMs: Date.UTC(2026, 2, 2, 15, 0, 0) }));
    assert.equal(
      ev.body,
      '{"event":"FinishInteraction","date":"2026-03-02 14:05:09","guid":"g-1",' +
        '"campaign":"Sales<-","agent":"jdoe","channel":"telephony","clientId":"59891234567",' +
        '"startDate":"2026-03-02 14:00:00","endDate":"2026-03-02 14:05:09","duration":309}',
    );
    assert.equal(ev.orderKey, 'guid:g-1');
    assert.equal(ev.ruleId, 'finish_interaction');
    assert.equal(ev.occurredAtMs, Date.UTC(2026, 2, 2, 14, 5, 9));
  });

  void it('fires on an insert with finished = 1 and not on an insert with finished = 0', () => {
    const e = engine();
    const inserted = { ...ended, guid: 'g-2', channel: 'email', clientId: 'ana@example.com' };
    const ev = named(e, ins(INTERACTIONS, inserted), ['AssignInteraction', 'FinishInteraction'], 'FinishInteraction');
    assert.equal(
      ev.body,
      '{"event":"FinishInteraction","date":"2026-03-02 14:05:09","guid":"g-2",' +
        '"campaign":"Sales<-","agent":"jdoe","channel":"email","clientId":"ana@example.com",' +
        '"startDate":"2026-03-02 14:00:00","endDate":"2026-03-02 14:05:09","duration":309}',
    );
    assert.deepEqual(
      run(e, ins(INTERACTIONS, { ...started, guid: 'g-3' })).map((ev) => ev.name),
      ['AssignInteraction'],
    );
  });

  void it('never fires on an update that keeps finished = 1 (a later disposition or data update)', () => {
    const e = engine();
    const webchat = { ...ended, channel: 'webchat' };
    assert.deepEqual(run(e, upd(INTERACTIONS, webchat, { ...webchat, data: '{"note":"x"}' })), []);
    const telephonyDisposed = { ...ended, disposition_id: 6 };
    const events = run(e, upd(INTERACTIONS, ended, telephonyDisposed));
    assert.deepEqual(
      events.map((ev) => ev.name),
      ['InteractionDisposition'],
    );
    // finished 1 -> 0 (reopened) is not a finish either, nor is a delete.
    assert.deepEqual(run(e, upd(INTERACTIONS, webchat, { ...webchat, finished: 0 })), []);
    assert.deepEqual(run(e, del(INTERACTIONS, webchat)), []);
  });

  void it('NULL agent and clientId are JSON null, never omitted', () => {
    const e = engine();
    const s = interaction({
      guid: 'g-4',
      channel: 'webchat',
      agent: null,
      clientId: null,
      start_date: '2026-03-02 09:00:00',
    });
    const ev = one(e, upd(INTERACTIONS, s, { ...s, end_date: '2026-03-02 09:00:59', finished: 1 }));
    assert.equal(
      ev.body,
      '{"event":"FinishInteraction","date":"2026-03-02 09:00:59","guid":"g-4",' +
        '"campaign":"Sales<-","agent":null,"channel":"webchat","clientId":null,' +
        '"startDate":"2026-03-02 09:00:00","endDate":"2026-03-02 09:00:59","duration":59}',
    );
  });

  void it('counts whole seconds across days and for zero-length legs', () => {
    const e = engine();
    const long = interaction({
      guid: 'g-5',
      start_date: '2026-03-01 23:59:30',
      end_date: '2026-03-02 01:00:00',
      finished: 1,
    });
    const both = ['AssignInteraction', 'FinishInteraction'];
    assert.match(
      named(e, ins(INTERACTIONS, long), both, 'FinishInteraction').body,
      /"startDate":"2026-03-01 23:59:30","endDate":"2026-03-02 01:00:00","duration":3630\}$/,
    );
    const zero = interaction({
      guid: 'g-6',
      start_date: '2026-03-02 10:00:00',
      end_date: '2026-03-02 10:00:00',
      finished: 1,
    });
    assert.match(named(e, ins(INTERACTIONS, zero), both, 'FinishInteraction').body, /"duration":0\}$/);
  });

  void it('formats startDate/endDate and date in the output zone (America/Montevideo = UTC-3)', () => {
    const e = engine('America/Montevideo');
    const s = interaction({ guid: 'g-7', start_date: '2026-03-02 02:00:00' });
    const ev = one(e, upd(INTERACTIONS, s, { ...s, end_date: '2026-03-02 03:30:00', finished: 1 }));
    assert.equal(
      ev.body,
      '{"event":"FinishInteraction","date":"2026-03-02 00:30:00","guid":"g-7",' +
        '"campaign":"Sales<-","agent":"jdoe","channel":"telephony","clientId":"59891234567",' +
        '"startDate":"2026-03-01 23:00:00","endDate":"2026-03-02 00:30:00","duration":5400}',
    );
  });

  void it('falls back to the binlog timestamp for `date` when end_date is NULL or a zero date', () => {
    const e = engine();
    const s = interaction({ guid: 'g-8' });
    const ts = Date.UTC(2026, 2, 2, 16, 20, 30);
    const ev = one(e, upd(INTERACTIONS, s, { ...s, end_date: null, finished: 1 }, { timestampMs: ts }));
    assert.equal(
      ev.body,
      '{"event":"FinishInteraction","date":"2026-03-02 16:20:30","guid":"g-8",' +
        '"campaign":"Sales<-","agent":"jdoe","channel":"telephony","clientId":"59891234567",' +
        '"startDate":"2026-03-02 14:00:00","endDate":null,"duration":null}',
    );
    assert.equal(ev.occurredAtMs, ts);
    const zero = one(
      e,
      upd(INTERACTIONS, s, { ...s, end_date: '0000-00-00 00:00:00', finished: 1 }, { timestampMs: ts }),
    );
    assert.match(
      zero.body,
      /^\{"event":"FinishInteraction","date":"2026-03-02 16:20:30",.*"endDate":null,"duration":null\}$/,
    );
  });
});

void describe('RulesEngine (default rules): InteractionDisposition', () => {
  const leg = interaction({ id: 20, guid: 'g-d', finished: 1, end_date: '2026-03-02 14:05:09' });

  void it(
    'fires on disposition_id NULL -> value for telephony ' + 'with l1/l2/l3 from the tree and the binlog time as date',
    () => {
      const e = engine();
      const ts = Date.UTC(2026, 2, 2, 14, 6, 1, 0);
      const ev = one(e, upd(INTERACTIONS, leg, { ...leg, disposition_id: 3 }, { timestampMs: ts }));
      assert.equal(
        ev.body,
        '{"event":"InteractionDisposition","date":"2026-03-02 14:06:01","guid":"g-d","campaign":"Sales<-",' +
          '"agent":"jdoe","clientId":"59891234567","dispositionId":3,"l1":"Sale","l2":"Closed","l3":"Card"}',
      );
      assert.equal(ev.orderKey, 'guid:g-d');
      assert.equal(ev.ruleId, 'interaction_disposition');
      assert.equal(ev.occurredAtMs, ts);
    },
  );

  void it('fires on disposition_id 0 -> value; a 2-level leaf has l3 null and a 1-level leaf l2 and l3 null', () => {
    const e = engine();
    const zero = { ...leg, disposition_id: 0 };
    assert.equal(
      one(e, upd(INTERACTIONS, zero, { ...zero, disposition_id: 5 })).body,
      '{"event":"InteractionDisposition","date":"2026-03-02 14:10:00","guid":"g-d","campaign":"Sales<-",' +
        '"agent":"jdoe","clientId":"59891234567","dispositionId":5,"l1":"No sale","l2":"Price","l3":null}',
    );
    assert.equal(
      one(e, upd(INTERACTIONS, leg, { ...leg, disposition_id: 6 })).body,
      '{"event":"InteractionDisposition","date":"2026-03-02 14:10:00","guid":"g-d","campaign":"Sales<-",' +
        '"agent":"jdoe","clientId":"59891234567","dispositionId":6,"l1":"Wrong number","l2":null,"l3":null}',
    );
  });

  void it(
    'fires on an insert that already carries a disposition ' + '(together with FinishInteraction when finished)',
    () => {
      const e = engine();
      const c = ins(INTERACTIONS, { ...leg, disposition_id: 2 });
      const events = run(e, c);
      assert.deepEqual(
        events.map((ev) => ev.name),
        ['AssignInteraction', 'FinishInteraction', 'InteractionDisposition'],
      );
      assert.equal(
        events[2]!.body,
        '{"event":"InteractionDisposition","date":"2026-03-02 14:10:00","guid":"g-d","campaign":"Sales<-",' +
          '"agent":"jdoe","clientId":"59891234567","dispositionId":2,"l1":"Sale","l2":"Closed","l3":null}',
      );
      // Events of one row change: different ids (the rule is part of the id), same order key.
      assert.equal(new Set(events.map((ev) => ev.id)).size, 3);
      assert.deepEqual(new Set(events.map((ev) => ev.orderKey)), new Set(['guid:g-d']));
      const notFinished = run(e, ins(INTERACTIONS, { ...leg, finished: 0, end_date: null, disposition_id: 1 }));
      assert.deepEqual(
        notFinished.map((ev) => ev.name),
        ['AssignInteraction', 'InteractionDisposition'],
      );
    },
  );

  void it('does not fire when a disposition changes from one value to another, is cleared, or is unchanged', () => {
    const e = engine();
    const disposed = { ...leg, disposition_id: 3 };
    assert.deepEqual(run(e, upd(INTERACTIONS, disposed, { ...disposed, disposition_id: 5 })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, disposed, { ...disposed, disposition_id: null })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, disposed, { ...disposed, data: '{}' })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, leg, { ...leg, data: '{}' })), []);
  });

  void it('never fires for webchat (or any non-telephony channel)', () => {
    const e = engine();
    for (const channel of ['webchat', 'sms', 'email', 'whatsapp', 'TELEPHONY']) {
      const l = { ...leg, channel };
      assert.deepEqual(run(e, upd(INTERACTIONS, l, { ...l, disposition_id: 3 })), [], channel);
      const inserted = run(e, ins(INTERACTIONS, { ...l, finished: 0, disposition_id: 3 }));
      assert.deepEqual(
        inserted.map((ev) => ev.name),
        ['AssignInteraction'],
        `${channel} insert`,
      );
    }
  });

  void it('NULL agent/clientId are JSON null; an unknown disposition id gives null labels', () => {
    const e = engine();
    const l = { ...leg, agent: null, clientId: null };
    assert.equal(
      one(e, upd(INTERACTIONS, l, { ...l, disposition_id: 99 })).body,
      '{"event":"InteractionDisposition","date":"2026-03-02 14:10:00","guid":"g-d","campaign":"Sales<-",' +
        '"agent":null,"clientId":null,"dispositionId":99,"l1":null,"l2":null,"l3":null}',
    );
  });

  void it('reflects a relabelled or new disposition from that change on', () => {
    const e = engine();
    run(e, upd(DISPOSITIONS, disposition(2, 1, 'Closed'), disposition(2, 1, 'Cerrada ✅')));
    run(e, ins(DISPOSITIONS, disposition(7, 6, 'Fax')));
    assert.match(
      one(e, upd(INTERACTIONS, leg, { ...leg, disposition_id: 3 })).body,
      /"l1":"Sale","l2":"Cerrada ✅","l3":"Card"\}$/,
    );
    assert.match(
      one(e, upd(INTERACTIONS, leg, { ...leg, disposition_id: 7 })).body,
      /"dispositionId":7,"l1":"Wrong number","l2":"Fax","l3":null\}$/,
    );
  });

  void it('uses the binlog timestamp shifted to the output zone (America/Montevideo)', () => {
    const e = engine('America/Montevideo');
    const ev = one(
      e,
      upd(INTERACTIONS, leg, { ...leg, disposition_id: 3 }, { timestampMs: Date.UTC(2026, 2, 2, 14, 6, 1, 999) }),
    );
    assert.match(ev.body, /^\{"event":"InteractionDisposition","date":"2026-03-02 11:06:01","guid":"g-d",/);
  });
});

void describe('RulesEngine (default rules): AssignInteraction', () => {
  const queued = interaction({ id: 30, guid: 'g-a', agent: null, start_date: '2026-03-02 14:00:00', finished: 0 });
  const assigned = { ...queued, agent: 'jdoe' };
  const body =
    '{"event":"AssignInteraction","date":"2026-03-02 14:00:00","guid":"g-a","campaign":"Sales<-",' +
    '"agent":"jdoe","channel":"telephony","clientId":"59891234567"}';

  void it('fires on an update where agent goes NULL -> value, dated by the leg start, ordered by guid', () => {
    const e = engine();
    assert.deepEqual(run(e, ins(INTERACTIONS, queued)), []);
    const ev = one(e, upd(INTERACTIONS, queued, assigned, { timestampMs: Date.UTC(2026, 2, 2, 14, 0, 30) }));
    assert.equal(ev.body, body);
    assert.equal(ev.orderKey, 'guid:g-a');
    assert.equal(ev.ruleId, 'assign_interaction');
    assert.equal(ev.occurredAtMs, Date.UTC(2026, 2, 2, 14, 0, 0));
  });

  void it("fires on an update where agent goes '' -> value and on an insert with an agent", () => {
    const e = engine();
    const empty = { ...queued, agent: '' };
    assert.deepEqual(run(e, ins(INTERACTIONS, empty)), []);
    assert.equal(one(e, upd(INTERACTIONS, empty, assigned)).body, body);
    assert.equal(one(e, ins(INTERACTIONS, assigned)).body, body);
  });

  void it('does not fire when the agent changes from one value to another, is cleared, or is unchanged', () => {
    const e = engine();
    assert.deepEqual(run(e, upd(INTERACTIONS, assigned, { ...assigned, agent: 'mgarcia' })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, assigned, { ...assigned, agent: null })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, assigned, { ...assigned, agent: '' })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, assigned, { ...assigned, data: '{}' })), []);
    assert.deepEqual(run(e, upd(INTERACTIONS, queued, { ...queued, data: '{}' })), []);
    assert.deepEqual(run(e, del(INTERACTIONS, assigned)), []);
  });

  void it('falls back to the binlog timestamp for `date` when start_date is NULL or a zero date', () => {
    const e = engine('America/Montevideo');
    const ts = Date.UTC(2026, 2, 2, 16, 20, 30);
    for (const start of [null, '0000-00-00 00:00:00']) {
      const ev = one(
        e,
        upd(INTERACTIONS, { ...queued, start_date: start }, { ...assigned, start_date: start }, { timestampMs: ts }),
      );
      assert.equal(
        ev.body,
        '{"event":"AssignInteraction","date":"2026-03-02 13:20:30","guid":"g-a","campaign":"Sales<-",' +
          '"agent":"jdoe","channel":"telephony","clientId":"59891234567"}',
      );
      assert.equal(ev.occurredAtMs, ts);
    }
  });

  void it('NULL clientId is JSON null; any channel counts', () => {
    const e = engine();
    const chat = { ...queued, channel: 'webchat', clientId: null };
    assert.equal(
      one(e, upd(INTERACTIONS, chat, { ...chat, agent: 'mgarcia' })).body,
      '{"event":"AssignInteraction","date":"2026-03-02 14:00:00","guid":"g-a","campaign":"Sales<-",' +
        '"agent":"mgarcia","channel":"webchat","clientId":null}',
    );
  });
});

void describe('RulesEngine (default rules): event ids', () => {
  const row = qlog('AGENTLOGIN', { agent: 'jdoe' });

  void it('is a UUID (version-5 layout) equal to eventIdFor(change, ruleId)', () => {
    const e = engine();
    const c = ins(QUEUE_LOG, row, { txId: 'gtid:0-1-4242', ordinal: 3 });
    const ev = one(e, c);
    assert.match(ev.id, UUID_V5);
    assert.equal(ev.id, eventIdFor(c, 'agent_log'));
  });

  void it('is stable across releases: pinned value for gtid:0-1-4242 ccrepo.queue_log_repo #3 agent_log', () => {
    // Receivers deduplicate by this id: changing the namespace or the name layout breaks them.
    const c = {
      tx: { id: 'gtid:0-1-4242', start: { file: FILE, pos: 9000 } },
      schema: 'ccrepo',
      table: 'queue_log_repo',
      ordinal: 3,
    };
    assert.equal(eventIdFor(c, 'agent_log'), PINNED_ID);
    assert.equal(
      eventIdFor({ ...c, tx: { ...c.tx, start: { file: 'binlog.000009', pos: 4 } } }, 'agent_log'),
      PINNED_ID,
      'the start position is not part of it',
    );
  });

  void it('is deterministic: the same change gives the same id in another engine instance', () => {
    const c = ins(QUEUE_LOG, row, { txId: 'gtid:0-1-777', ordinal: 0 });
    const a = one(engine(), c);
    const b = one(engine('America/Montevideo'), c);
    assert.equal(a.id, b.id);
    assert.equal(one(engine(), { ...c }).id, a.id);
  });

  void it('differs by ordinal, transaction, table and rule', () => {
    const e = engine();
    const base = one(e, ins(QUEUE_LOG, row, { txId: 'gtid:0-1-5000', ordinal: 0 })).id;
    const ids = [
      base,
      one(e, ins(QUEUE_LOG, row, { txId: 'gtid:0-1-5000', ordinal: 1 })).id,
      one(e, ins(QUEUE_LOG, row, { txId: 'gtid:0-1-5001', ordinal: 0 })).id,
      one(e, ins(QUEUE_LOG, row, { txId: `pos:${FILE}:5000`, ordinal: 0 })).id,
    ];
    assert.equal(new Set(ids).size, ids.length);
    const c = {
      tx: { id: 'gtid:0-1-5000', start: { file: FILE, pos: 1 } },
      schema: 'ccrepo',
      table: 'queue_log_repo',
      ordinal: 0,
    };
    assert.equal(base, eventIdFor(c, 'agent_log'));
    assert.notEqual(eventIdFor(c, 'agent_log'), eventIdFor(c, 'agent_break'));
    assert.notEqual(eventIdFor(c, 'agent_log'), eventIdFor({ ...c, schema: 'ccdata', table: 'users' }, 'agent_log'));
  });
});

void describe('RulesEngine: rule errors', () => {
  void it('reports a failing rule through onRuleError and keeps the other rules', () => {
    const e = engine();
    // A row whose agent column throws when read makes the agent rule fail, not the engine.
    const poisoned = ins(QUEUE_LOG, {
      ...qlog('AGENTLOGIN', {}),
      get agent(): string {
        throw new Error('boom');
      },
    });
    const errors: string[] = [];
    const events = e.evaluate(poisoned, (ruleId, err) => errors.push(`${ruleId}: ${(err as Error).message}`));
    assert.deepEqual(events, []);
    assert.deepEqual(errors, ['agent_log: boom']);
  });
});

/**
 * RFC 4122 UUIDv5 of "gtid:0-1-4242:ccrepo.queue_log_repo:3:agent_log" in the project namespace (= Python uuid.uuid5).
 */
const PINNED_ID = 'de34fb76-92df-54bf-9041-c281632c9e43';

void describe('RulesEngine: rules-language features beyond the defaults', () => {
  const base = structuredClone(DEFAULT_RULES);
  const custom: RulesFileInput = {
    ...base,
    rules: [
      {
        id: 'custom_break',
        event: 'AgentBreak',
        table: 'ccrepo.interactions',
        on: ['update', 'delete'],
        when: {
          any: [{ all: [{ changed: 'campaign' }, { column: 'channel', ne: 'sms' }] }, { change: 'delete' }],
        },
        orderKey: 'agent',
        fields: {
          agent: { json: { column: 'data', path: '$.agent.name' } },
          motive: { coalesce: [{ json: { column: 'data', path: '$.tags[1]' } }, { column: 'campaign', row: 'old' }] },
          isBreak: { test: { not: { column: 'clientId', isNull: true } } },
        },
      },
      {
        id: 'custom_log',
        event: 'AgentLog',
        table: 'ccrepo.custom',
        on: ['insert'],
        when: { column: 'kind', notIn: ['skip', 0] },
        orderKey: 'agent',
        fields: { agent: { column: 'who' }, isLogin: { column: 'flag' } },
      },
      {
        id: 'custom_finish',
        event: 'FinishInteraction',
        table: 'ccrepo.custom2',
        on: ['insert'],
        orderKey: 'guid',
        fields: {
          guid: { column: 'g' },
          campaign: { const: 'Fixed<-' },
          agent: { const: null },
          channel: { const: 'sms' },
          clientId: { column: 'n' },
          startDate: { column: 's' },
          endDate: { column: 'e' },
          duration: { column: 'd' },
        },
      },
    ],
  };
  const mk = (): RulesEngine => new RulesEngine(validateRules(custom, 'custom rules'), 'UTC');

  void it('json paths, coalesce, old-row columns, changed/ne/not/isNull conditions', () => {
    const e = mk();
    const before = interaction({ campaign: 'Old<-', data: '{"agent":{"name":"ana"},"tags":["a","b"]}' });
    const after = { ...before, campaign: 'New<-' };
    assert.deepEqual(bodies(e.evaluate(upd(INTERACTIONS, before, after), noRuleErrors)), [
      '{"event":"AgentBreak","date":"2026-03-02 14:10:00","agent":"ana","motive":"b","isBreak":true}',
    ]);
    // No second tag: coalesce falls through to the old campaign; a JSON object column works too.
    const objData = { ...before, data: { agent: { name: 'bob' }, tags: ['only'] }, clientId: null };
    assert.deepEqual(bodies(e.evaluate(upd(INTERACTIONS, objData, { ...objData, campaign: 'X' }), noRuleErrors)), [
      '{"event":"AgentBreak","date":"2026-03-02 14:10:00","agent":"bob","motive":"Old<-","isBreak":false}',
    ]);
    // Unchanged campaign, or an sms channel: no event.
    assert.deepEqual(e.evaluate(upd(INTERACTIONS, before, { ...before, agent: 'x' }), noRuleErrors), []);
    const sms = { ...before, channel: 'sms' };
    assert.deepEqual(e.evaluate(upd(INTERACTIONS, sms, { ...sms, campaign: 'New<-' }), noRuleErrors), []);
    // A delete matches on the old image; invalid JSON gives null.
    assert.deepEqual(bodies(e.evaluate(del(INTERACTIONS, { ...before, data: '{not json' }), noRuleErrors)), [
      '{"event":"AgentBreak","date":"2026-03-02 14:10:00","agent":null,"motive":"Old<-","isBreak":true}',
    ]);
  });

  void it('coerces column values to the spec types (boolean, number, string)', () => {
    const e = mk();
    const log = (flag: unknown, who: unknown = 'ana'): string | undefined =>
      e.evaluate(ins('ccrepo.custom', { kind: 'x', who, flag }), noRuleErrors)[0]?.body;
    assert.equal(log(1), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"ana","isLogin":true}');
    assert.equal(log(0), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"ana","isLogin":false}');
    assert.equal(log('0'), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"ana","isLogin":false}');
    assert.equal(log(''), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"ana","isLogin":false}');
    assert.equal(log(null), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"ana","isLogin":null}');
    assert.equal(log(true, 42), '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"42","isLogin":true}');
    assert.equal(
      log(Buffer.from('1'), 7n),
      '{"event":"AgentLog","date":"2026-03-02 14:10:00","agent":"7","isLogin":true}',
    );
    assert.deepEqual(e.evaluate(ins('ccrepo.custom', { kind: 'skip', who: 'a', flag: 1 }), noRuleErrors), []);
    assert.deepEqual(e.evaluate(ins('ccrepo.custom', { kind: 0, who: 'a', flag: 1 }), noRuleErrors), []);

    const finish = (d: unknown): string | undefined =>
      e.evaluate(ins('ccrepo.custom2', { g: 'g', n: 598, s: '2026-03-02 10:00:00', e: 'garbage', d }), noRuleErrors)[0]
        ?.body;
    const prefix =
      '{"event":"FinishInteraction","date":"2026-03-02 14:10:00","guid":"g","campaign":"Fixed<-",' +
      '"agent":null,"channel":"sms","clientId":"598","startDate":"2026-03-02 10:00:00","endDate":null,';
    assert.equal(finish('12'), `${prefix}"duration":12}`);
    assert.equal(finish(7), `${prefix}"duration":7}`);
    assert.equal(finish('abc'), `${prefix}"duration":null}`);
    assert.equal(finish(''), `${prefix}"duration":null}`);
    assert.equal(finish(Number.NaN), `${prefix}"duration":null}`);
    assert.equal(finish(null), `${prefix}"duration":null}`);
  });
});
