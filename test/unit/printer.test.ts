// The demo printer: one aligned line per event with its key facts, envelope bodies shown like flat
// ones, unknown bodies still on one line, and a tally line that keeps its shape.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCounts, formatEventLine } from '../../demo/printer.js';

const NAME_COLUMN = 24;

void describe('formatEventLine', () => {
  void it('AgentBreak: agent and motive, on and off', () => {
    const on = formatEventLine({
      event: 'AgentBreak',
      date: '2026-03-02 14:05:09',
      agent: 'jdoe',
      motive: 'Lunch',
      isBreak: true,
    });
    assert.equal(on, `${'AgentBreak'.padEnd(NAME_COLUMN)}jdoe      on break (Lunch)`);
    const off = formatEventLine({ event: 'AgentBreak', agent: 'jdoe', motive: 'Coffee ☕', isBreak: false });
    assert.equal(off, `${'AgentBreak'.padEnd(NAME_COLUMN)}jdoe      back from break (Coffee ☕)`);
  });

  void it('AgentLog: login and logoff', () => {
    assert.equal(
      formatEventLine({ event: 'AgentLog', agent: 'mfernandez', isLogin: true }),
      `${'AgentLog'.padEnd(NAME_COLUMN)}mfernandez logged in`,
    );
    assert.match(formatEventLine({ event: 'AgentLog', agent: 'jdoe', isLogin: false }), /jdoe {6}logged off$/);
  });

  void it('AgentRingNoAnswer: caller, campaign, extension and full name', () => {
    const line = formatEventLine({
      event: 'AgentRingNoAnswer',
      agent: 'jperez',
      agentNumber: '2001',
      agentFullName: 'José Pérez',
      callerIdNum: '59891234567',
      campaign: 'Sales<-',
    });
    assert.equal(
      line,
      `${'AgentRingNoAnswer'.padEnd(NAME_COLUMN)}jperez    did ` +
        `not answer 59891234567 on Sales<- (ext 2001, José Pérez)`,
    );
  });

  void it('FinishInteraction: channel column, guid, agent and a readable duration', () => {
    const body = {
      event: 'FinishInteraction',
      guid: 'g-1',
      campaign: 'Sales<-',
      agent: 'jdoe',
      channel: 'telephony',
      clientId: '59891234567',
      startDate: '2026-03-02 14:05:09',
      endDate: '2026-03-02 14:05:51',
      duration: 42,
    };
    assert.equal(
      formatEventLine(body),
      `${'FinishInteraction'.padEnd(NAME_COLUMN)}telephony guid=g-1 agent=jdoe campaign=Sales<- client=59891234567 42s`,
    );
    assert.match(formatEventLine({ ...body, channel: 'webchat', duration: 125 }), /webchat {3}guid=g-1 .* 2m05s$/);
    assert.match(formatEventLine({ ...body, duration: 3725 }), / 1h02m05s$/);
  });

  void it('InteractionDisposition: the label path, skipping absent levels; nulls shown as -', () => {
    const body = {
      event: 'InteractionDisposition',
      guid: 'g-2',
      campaign: 'Sales<-',
      agent: null,
      clientId: '59891234567',
      dispositionId: 3,
      l1: 'Sale',
      l2: 'Closed',
      l3: 'Paid',
    };
    assert.equal(
      formatEventLine(body),
      `${'InteractionDisposition'.padEnd(NAME_COLUMN)}Sale > Closed > Paid (id 3) guid=g-2 agent=- client=59891234567`,
    );
    assert.match(
      formatEventLine({ ...body, l2: 'Not interested', l1: 'No sale', l3: null }),
      /No sale > Not interested \(id 3\)/,
    );
  });

  void it('AssignInteraction: channel column, guid, the agent it went to, campaign and client', () => {
    const body = {
      event: 'AssignInteraction',
      date: '2026-03-02 14:05:09',
      guid: 'g-3',
      campaign: 'Web Chat<-',
      agent: 'mfernandez',
      channel: 'webchat',
      clientId: null,
    };
    assert.equal(
      formatEventLine(body),
      `${'AssignInteraction'.padEnd(NAME_COLUMN)}webchat   guid=g-3 assigned to mfernandez ` +
        'campaign=Web Chat<- client=-',
    );
  });

  void it('envelope bodies print like flat uContact bodies', () => {
    const flat = formatEventLine({ event: 'AgentLog', agent: 'jdoe', isLogin: true });
    const envelope = formatEventLine({
      Id: 'x',
      CreationDateUtc: '20260302140509',
      Category: 1,
      Code: 2,
      Event: 'AgentLog',
      Data: { agent: 'jdoe', isLogin: true },
    });
    assert.equal(envelope, flat);
  });

  void it('always one line: control characters in values are flattened', () => {
    const line = formatEventLine({ event: 'AgentBreak', agent: 'jdoe', motive: 'Lunch\nFAKE line\r\t', isBreak: true });
    assert.doesNotMatch(line, /[\n\r\t]/);
    assert.match(line, /on break \(Lunch FAKE line \)/);
  });

  void it('unknown or malformed bodies are shown, clipped, on one line', () => {
    const line = formatEventLine({ event: 'Mystery', payload: 'x'.repeat(500) });
    assert.ok(line.startsWith(`${'Mystery'.padEnd(NAME_COLUMN)}(unrecognized) {"event":"Mystery"`), line);
    assert.ok(line.endsWith('...'));
    assert.ok(line.length < 200);
    assert.match(formatEventLine({}), /^- +\(unrecognized\) \{\}$/);
  });
});

void describe('formatCounts', () => {
  void it('lists the six events in canonical order with zeros, then extras, then the total', () => {
    assert.equal(
      formatCounts({ AgentBreak: 2, FinishInteraction: 10, Zeta: 1, Alpha: 4 }),
      'AgentRingNoAnswer=0  AgentLog=0  AgentBreak=2  FinishInteraction=10  ' +
        'InteractionDisposition=0  AssignInteraction=0  Alpha=4  Zeta=1  total=17',
    );
  });

  void it('an empty tally still names every event', () => {
    assert.equal(
      formatCounts({}),
      'AgentRingNoAnswer=0  AgentLog=0  AgentBreak=0  FinishInteraction=0  InteractionDisposition=0  ' +
        'AssignInteraction=0  total=0',
    );
  });
});
