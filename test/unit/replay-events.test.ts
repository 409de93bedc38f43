// ReplayEventBuilder: the processor's evaluation (observe, evaluate, remembered values fetched on a
// miss) with the ids of the first run, routed to today's registrations and the --rule / --url
// filters; a transaction read in parts yields its events only with its commit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventIdFor } from '../../src/domain/event-id.js';
import type { Row, RowChange } from '../../src/domain/row-change.js';
import { ReplayEventBuilder } from '../../src/ops/replay-events.js';
import type { ReadTransaction } from '../../src/ops/replay-source.js';
import { progressReporter } from '../../src/ops/replay.js';
import { Registry } from '../../src/registry/registry.js';
import { RulesEngine } from '../../src/rules/engine.js';
import { defaultRules } from '../../src/rules/load.js';

const A = 'http://a.test/hook';
const B = 'http://b.test/hook';
const FROM = { file: 'bin.000001', pos: 1000 };

function builder(opts: { rule?: string; url?: string } = {}): ReplayEventBuilder {
  const rules = defaultRules();
  const engine = new RulesEngine(rules, 'UTC');
  const registry = new Registry(rules.registry, () => undefined);
  registry.load([
    { id: 1, event: 'AgentLog', url: A },
    { id: 2, event: 'AgentBreak', url: A },
    { id: 3, event: 'AgentBreak', url: B },
  ]);
  return new ReplayEventBuilder({
    engine,
    registry,
    db: { lookupValue: () => Promise.resolve(null) },
    from: FROM,
    onRuleError: (rule, err) => assert.fail(`${rule}: ${String(err)}`),
    ...opts,
  });
}

const row = (event: string, extra: Row = {}): Row => ({
  id: 1,
  time: '2026-03-02 09:00:00',
  callid: '',
  queuename: '',
  agent: 'jdoe',
  event,
  data1: 'Lunch',
  data2: null,
  ...extra,
});

function tx(start: number, events: string[], opts: { partial?: boolean; gtidEventEnd?: number } = {}): ReadTransaction {
  const ref = { id: `gtid:0-1-${start}`, start: { file: 'bin.000001', pos: start } };
  const changes: RowChange[] = events.map((event, ordinal) => ({
    kind: 'insert',
    schema: 'ccrepo',
    table: 'queue_log_repo',
    before: null,
    after: row(event),
    tx: ref,
    ordinal,
    timestampMs: 0,
  }));
  return {
    changes,
    partial: opts.partial ?? false,
    commit: { file: 'bin.000001', pos: start + 400 },
    timestampMs: 0,
    gtidEventEnd: opts.gtidEventEnd ?? start + 40,
  };
}

void describe('ReplayEventBuilder', () => {
  void it('builds the ids of the first run, routed to every URL registered for the event now', async () => {
    const events = await builder().eventsOf(tx(2000, ['AGENTLOGIN', 'PAUSE']));
    const ref = { id: 'gtid:0-1-2000', start: { file: 'bin.000001', pos: 2000 } };
    const table = { tx: ref, schema: 'ccrepo', table: 'queue_log_repo' };
    assert.deepEqual(
      events.map((e) => [e.id, e.name, e.urls]),
      [
        [eventIdFor({ ...table, ordinal: 0 }, 'agent_log'), 'AgentLog', [A]],
        [eventIdFor({ ...table, ordinal: 1 }, 'agent_break'), 'AgentBreak', [A, B]],
      ],
    );
    // Looked up between the transaction's start and the end of its GTID event.
    assert.deepEqual(events[0]!.span, { from: 2000, to: 2040 });
    assert.deepEqual(events[0]!.source, { file: 'bin.000001', pos: 2000 });
  });

  void it('a transaction starting where the replay starts is looked up from the file start', async () => {
    const [ev] = await builder().eventsOf(tx(FROM.pos, ['AGENTLOGIN']));
    assert.deepEqual(ev!.span, { from: 0, to: FROM.pos + 40 });
  });

  void it('--rule keeps one rule; --url one URL (events not routed to it are dropped)', async () => {
    const byRule = await builder({ rule: 'agent_break' }).eventsOf(tx(2000, ['AGENTLOGIN', 'PAUSE']));
    assert.deepEqual(
      byRule.map((e) => e.name),
      ['AgentBreak'],
    );
    const byUrl = await builder({ url: B }).eventsOf(tx(2000, ['AGENTLOGIN', 'PAUSE', 'UNPAUSE']));
    assert.deepEqual(
      byUrl.map((e) => [e.name, e.urls]),
      [
        ['AgentBreak', [B]],
        ['AgentBreak', [B]],
      ],
    );
  });

  void it('holds the events of a transaction read in parts until its commit part', async () => {
    const b = builder();
    assert.deepEqual(await b.eventsOf(tx(3000, ['AGENTLOGIN'], { partial: true })), []);
    const events = await b.eventsOf(tx(3000, ['PAUSE']));
    assert.deepEqual(
      events.map((e) => e.name),
      ['AgentLog', 'AgentBreak'],
    );
  });
});

void describe('replay progress reporter', () => {
  const files = [{ file: 'bin.000001', size: 10_000 }];
  const from = { file: 'bin.000001', pos: 0 };
  const end = { file: 'bin.000001', pos: 10_000 };

  void it('elsewhere than a terminal: a line every 5 s, and a last one when it had printed any', () => {
    let now = 0;
    const err: string[] = [];
    const p = progressReporter(
      { out: () => undefined, err: (t) => err.push(t), tty: false, now: () => now },
      files,
      from,
      end,
    );
    now = 4_999;
    p.update({ file: 'bin.000001', pos: 1000 }, 1);
    assert.deepEqual(err, []);
    now = 5_000;
    p.update({ file: 'bin.000001', pos: 5000 }, 2);
    assert.deepEqual(err, ['replay: 50% at bin.000001:5000, 2 events, 1.0 KiB/s, ETA 5s\n']);
    p.done(end, 3);
    assert.equal(err.length, 2);
    assert.match(err[1]!, /^replay: 100% at bin\.000001:10000, 3 events/);
  });

  void it('on a terminal: the bar redrawn in place, then left on its own line', () => {
    let now = 0;
    const err: string[] = [];
    const p = progressReporter(
      { out: () => undefined, err: (t) => err.push(t), tty: true, now: () => now },
      files,
      from,
      end,
    );
    now = 250;
    p.update({ file: 'bin.000001', pos: 2500 }, 1);
    now = 300;
    p.update({ file: 'bin.000001', pos: 3000 }, 1);
    p.done(end, 1);
    assert.equal(err.length, 2);
    const clearToEnd = '\u001b[K';
    assert.ok(err[0]!.startsWith('\r[######......') && err[0]!.endsWith(clearToEnd), err[0]);
    assert.match(err[0]!, / {2}25% .*ETA /);
    assert.ok(err[1]!.startsWith(`\r[${'#'.repeat(24)}] 100% `) && err[1]!.endsWith(`${clearToEnd}\n`), err[1]);
  });
});
