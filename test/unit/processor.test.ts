// TransactionProcessor on a real temporary StateStore with a fake source: one outbox commit per source
// transaction carrying its events, mirror changes and checkpoint; a transaction read in parts is staged
// and promoted by its commit; abandoning it drops the staged work; a failing rule stops neither the
// other rules nor the transaction.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Row, RowChange, SourceTransaction } from '../../src/domain/row-change.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { StateStore, type CommitBatch, type Delivery, type StagedCounts } from '../../src/outbox/state-store.js';
import { mirrorTablesOf, TransactionProcessor } from '../../src/pipeline/processor.js';
import { Registry } from '../../src/registry/registry.js';
import { RulesEngine } from '../../src/rules/engine.js';
import { defaultRules } from '../../src/rules/load.js';

const RING_URL = 'http://127.0.0.1:9/ring';
const LOG_URL = 'http://127.0.0.1:9/log';
const CHECKPOINT = { file: 'bin.000001', pos: 500 };

interface Harness {
  readonly outbox: StateStore;
  readonly processor: TransactionProcessor;
  readonly metrics: Metrics;
  /** Every outbox.commit() batch, in order. */
  readonly commits: CommitBatch[];
  /** Every onEnqueued call. */
  readonly enqueued: Array<{ created: Delivery[]; staged: StagedCounts | undefined }>;
  readonly logs: Array<Record<string, unknown>>;
}

function harness(stateDir: string): Harness {
  const rules = defaultRules();
  const engine = new RulesEngine(rules, 'UTC');
  const registry = new Registry(rules.registry, () => undefined);
  registry.load([
    { id: 1, event: 'AgentRingNoAnswer', url: RING_URL },
    { id: 2, event: 'AgentLog', url: LOG_URL },
  ]);
  const outbox = new StateStore({ stateDir, synchronous: 'normal' });
  outbox.initialize(
    [{ table: 'ccdata.users', rows: [{ pk: 'u7', row: { username: 'u7', phone: '2007', name: 'Ana' } }] }],
    CHECKPOINT,
  );
  for (const dir of engine.directories.values()) dir.load(outbox.mirrorRows(dir.table));
  const commits: CommitBatch[] = [];
  const commit = outbox.commit.bind(outbox);
  outbox.commit = (batch: CommitBatch): Delivery[] => {
    commits.push(batch);
    return commit(batch);
  };
  const mirrorTables = mirrorTablesOf(engine, registry);
  const enqueued: Harness['enqueued'] = [];
  const logs: Array<Record<string, unknown>> = [];
  const metrics = new Metrics();
  const processor = new TransactionProcessor({
    engine,
    registry,
    mirrorTables,
    outbox,
    db: { lookupValue: () => Promise.resolve(null) },
    metrics,
    logger: createLogger('info', {
      write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>),
    }),
    onEnqueued: (created, staged) => enqueued.push({ created, staged }),
  });
  return { outbox, processor, metrics, commits, enqueued, logs };
}

let pos = 1_000;
const change = (c: Omit<RowChange, 'tx' | 'ordinal' | 'timestampMs'>): RowChange => ({
  ...c,
  tx: { id: `pos:bin.000001:${(pos += 100)}`, start: { file: 'bin.000001', pos } },
  ordinal: 0,
  timestampMs: 1_772_460_000_000,
});
const queueLog = (event: string, agent: string, extra: Row = {}): Row => ({
  id: pos,
  time: '2026-03-02 14:05:09',
  callid: 'c1',
  queuename: 'Sales',
  agent,
  event,
  data1: '15000',
  data2: null,
  ...extra,
});
const ring = (agent = 'SIP/2007'): RowChange =>
  change({
    kind: 'insert',
    schema: 'ccrepo',
    table: 'queue_log_repo',
    before: null,
    after: queueLog('RINGNOANSWER', agent),
  });
const rename = (name: string): RowChange =>
  change({
    kind: 'update',
    schema: 'ccdata',
    table: 'users',
    before: { username: 'u7', phone: '2007', name: 'Ana' },
    after: { username: 'u7', phone: '2007', name, email: 'u7@example.com' },
  });
const tx = (changes: RowChange[], partial = false): SourceTransaction => ({
  partial,
  commit: partial ? CHECKPOINT : { file: 'bin.000001', pos: (pos += 100) },
  timestampMs: 1_772_460_000_000,
  changes,
});
const bodyOf = (d: Delivery): Record<string, unknown> => JSON.parse(d.body) as Record<string, unknown>;

void describe('TransactionProcessor', () => {
  let dir = '';
  let n = 0;
  const stateDir = (): string => join(dir, `state-${++n}`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-processor-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('one transaction: one commit with its events, mirror changes and checkpoint', async () => {
    const h = harness(stateDir());
    const t = tx([rename('Ana Lima'), ring()]);
    await h.processor.process(t);

    assert.equal(h.commits.length, 1);
    const [batch] = h.commits;
    assert.deepEqual(batch!.checkpoint, t.commit);
    assert.deepEqual(batch!.mirror, [
      { table: 'ccdata.users', pk: 'u7', row: { username: 'u7', phone: '2007', name: 'Ana Lima' } },
    ]);
    assert.deepEqual(
      batch!.events.map((e) => [e.name, e.urls]),
      [['AgentRingNoAnswer', [RING_URL]]],
    );
    // The event was built after the mirror change of the same transaction: the new name.
    assert.equal(bodyOf(h.enqueued[0]!.created[0]!).agentFullName, 'Ana Lima');
    assert.deepEqual(h.outbox.checkpoint(), t.commit);
    assert.deepEqual(h.outbox.mirrorRows('ccdata.users'), [{ username: 'u7', phone: '2007', name: 'Ana Lima' }]);
    assert.deepEqual([...h.outbox.pendingByUrl()], [[RING_URL, 1]]);
    assert.equal(h.enqueued.length, 1);
    assert.deepEqual(
      h.enqueued[0]!.created.map((d) => d.url),
      [RING_URL],
    );
    assert.equal(h.enqueued[0]!.staged, undefined);

    // A transaction with no event still commits its checkpoint; nothing to hand to delivery.
    const quiet = tx([]);
    await h.processor.process(quiet);
    assert.equal(h.commits.length, 2);
    assert.deepEqual(h.outbox.checkpoint(), quiet.commit);
    assert.equal(h.enqueued.length, 1);
    h.outbox.close();
  });

  void it('a transaction in parts: staged, invisible until its commit, then promoted with the checkpoint', async () => {
    const h = harness(stateDir());
    await h.processor.process(tx([ring('SIP/2007'), rename('Part One')], true));
    await h.processor.process(tx([ring('SIP/2007')], true));
    assert.equal(h.commits.length, 0);
    assert.deepEqual(h.outbox.checkpoint(), CHECKPOINT);
    assert.deepEqual([...h.outbox.pendingByUrl()], []);
    assert.deepEqual(h.outbox.mirrorRows('ccdata.users'), [{ username: 'u7', phone: '2007', name: 'Ana' }]);
    assert.equal(h.enqueued.length, 0);

    const last = tx([ring('SIP/2007')]);
    await h.processor.process(last);
    assert.equal(h.commits.length, 1);
    assert.deepEqual(h.outbox.checkpoint(), last.commit);
    assert.deepEqual([...h.outbox.pendingByUrl()], [[RING_URL, 3]]);
    assert.deepEqual(h.outbox.mirrorRows('ccdata.users'), [{ username: 'u7', phone: '2007', name: 'Part One' }]);
    // Delivery hears of the two staged deliveries (counts) and the one created by the commit.
    assert.equal(h.enqueued.length, 1);
    assert.deepEqual([...h.enqueued[0]!.staged!], [[RING_URL, 2]]);
    assert.equal(h.enqueued[0]!.created.length, 1);

    // The next transaction starts with nothing staged.
    await h.processor.process(tx([ring()]));
    assert.equal(h.enqueued[1]!.staged, undefined);
    h.outbox.close();
  });

  void it('abandoning an open transaction drops its staged events and mirror changes', async () => {
    const h = harness(stateDir());
    await h.processor.process(tx([ring(), rename('Never')], true));
    h.processor.abandonOpenTransaction();
    // Read again from the checkpoint: this time the whole transaction arrives in one piece.
    const again = tx([ring()]);
    await h.processor.process(again);
    assert.deepEqual([...h.outbox.pendingByUrl()], [[RING_URL, 1]]);
    assert.deepEqual(h.outbox.mirrorRows('ccdata.users'), [{ username: 'u7', phone: '2007', name: 'Ana' }]);
    assert.equal(h.enqueued.length, 1);
    assert.equal(h.enqueued[0]!.staged, undefined);
    assert.deepEqual(h.outbox.checkpoint(), again.commit);
    h.outbox.close();
  });

  void it('a rule that fails on a row is reported; the other rules and the transaction go on', async () => {
    const h = harness(stateDir());
    // Reading the agent column throws: the AgentLog rule fails on this row.
    const poisoned = change({
      kind: 'insert',
      schema: 'ccrepo',
      table: 'queue_log_repo',
      before: null,
      after: {
        ...queueLog('AGENTLOGIN', 'SIP/2007'),
        get agent(): string {
          throw new Error('boom');
        },
      },
    });
    const login = change({
      kind: 'insert',
      schema: 'ccrepo',
      table: 'queue_log_repo',
      before: null,
      after: queueLog('AGENTLOGIN', 'SIP/2007'),
    });
    const t = tx([poisoned, ring(), login]);
    await h.processor.process(t);

    assert.equal(h.commits.length, 1);
    assert.deepEqual(h.outbox.checkpoint(), t.commit);
    assert.deepEqual(
      h.commits[0]!.events.map((e) => e.name),
      ['AgentRingNoAnswer', 'AgentLog'],
    );
    const failed = h.logs.filter((l) => l.code === 'UCW_ERR_RULES_EVAL');
    assert.deepEqual(
      failed.map((l) => [l.level, l.rule, l.table, (l.err as { message: string }).message]),
      [['error', 'agent_log', 'ccrepo.queue_log_repo', 'boom']],
    );
    assert.deepEqual(
      (await h.metrics.ruleErrors.get()).values.map((v) => [v.labels.rule, v.value]),
      [['agent_log', 1]],
    );
    h.outbox.close();
  });

  void it('a delivery carries the binlog time of its source commit, in memory and as the store pages it', async () => {
    const h = harness(stateDir());
    const ROW_TIME = 1_772_460_000_000;
    const COMMIT_TIME = ROW_TIME + 7_000;
    const STAGED_ROW_TIME = ROW_TIME - 60_000;
    await h.processor.process({ ...tx([{ ...ring(), timestampMs: STAGED_ROW_TIME }], true) });
    await h.processor.process({ ...tx([ring()]), timestampMs: COMMIT_TIME });
    // The part read before its commit has only its row event's time; the commit's own, the commit's.
    assert.deepEqual(
      h.enqueued[0]!.created.map((d) => d.committedAtMs),
      [COMMIT_TIME],
    );
    assert.deepEqual(
      h.outbox.pendingPage(RING_URL, 0, 10).map((d) => d.committedAtMs),
      [STAGED_ROW_TIME, COMMIT_TIME],
    );
    // Not the event's own time (queue_log.time, 2026-03-02 14:05:09 UTC).
    assert.notEqual(Date.UTC(2026, 2, 2, 14, 5, 9), COMMIT_TIME);
    assert.equal(h.enqueued[0]!.created[0]!.occurredAtMs, Date.UTC(2026, 2, 2, 14, 5, 9));
    h.outbox.close();
  });
});
