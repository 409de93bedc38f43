// The processor with a real temporary StateStore and a fake source: mirror changes of a transaction read
// in parts are staged in the store, not kept in memory until its commit (a 100,000-row UPDATE of a
// directory table must not grow the heap with the transaction), reach mirror_rows atomically with the
// commit, and are dropped with the other staged work when the transaction is abandoned.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Row, RowChange, SourceTransaction } from '../../src/domain/row-change.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { StateStore, type Delivery } from '../../src/outbox/state-store.js';
import { mirrorTablesOf, TransactionProcessor } from '../../src/pipeline/processor.js';
import { Registry } from '../../src/registry/registry.js';
import { RulesEngine } from '../../src/rules/engine.js';
import { defaultRules } from '../../src/rules/load.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const USERS = 1_000;
const PART_ROWS = 1_000;
const URL = 'http://127.0.0.1:9/ring';

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Harness {
  readonly outbox: StateStore;
  readonly processor: TransactionProcessor;
  readonly engine: RulesEngine;
  readonly created: Delivery[];
}

function harness(stateDir: string): Harness {
  const rules = defaultRules();
  const engine = new RulesEngine(rules, 'UTC');
  const registry = new Registry(rules.registry, () => undefined);
  registry.load([{ id: 1, event: 'AgentRingNoAnswer', url: URL }]);
  const outbox = new StateStore({ stateDir, synchronous: 'normal' });
  const mirrorTables = mirrorTablesOf(engine, registry);
  const created: Delivery[] = [];
  const processor = new TransactionProcessor({
    engine,
    registry,
    mirrorTables,
    outbox,
    db: { lookupValue: () => Promise.resolve(null) },
    metrics: new Metrics(),
    logger: createLogger('silent'),
    onEnqueued: (d) => created.push(...d),
  });
  for (const dir of engine.directories.values()) dir.load(outbox.mirrorRows(dir.table));
  return { outbox, processor, engine, created };
}

let pos = 1_000;
const change = (c: Omit<RowChange, 'tx' | 'ordinal' | 'timestampMs'>): RowChange => ({
  ...c,
  tx: { id: `pos:bin.000001:${(pos += 100)}`, start: { file: 'bin.000001', pos } },
  ordinal: 0,
  timestampMs: 1_772_460_000_000,
});
/** A row image as the binlog has it (email: a column no rule reads), and as the store keeps it. */
const user = (i: number, name: string): Row => ({
  username: `u${i}`,
  phone: String(2000 + i),
  name,
  email: `u${i}@example.com`,
});
const stored = (i: number, name: string): Row => ({ username: `u${i}`, phone: String(2000 + i), name });
/** One part: PART_ROWS updates renaming users round-robin; names long and unique so that keeping them shows. */
const renamePart = (part: number, partial: boolean): SourceTransaction => ({
  partial,
  commit: { file: 'bin.000001', pos: 500 },
  timestampMs: 1_772_460_000_000,
  changes: Array.from({ length: PART_ROWS }, (_, k) => {
    const i = k % USERS;
    return change({
      kind: 'update',
      schema: 'ccdata',
      table: 'users',
      before: user(i, 'old'),
      after: user(i, `part ${part} ${'x'.repeat(300)} ${k}`),
    });
  }),
});
const commitTx = (changes: RowChange[]): SourceTransaction => ({
  partial: false,
  commit: { file: 'bin.000001', pos: (pos += 100) },
  timestampMs: 1_772_460_000_000,
  changes,
});
const ring = (agent: string): RowChange =>
  change({
    kind: 'insert',
    schema: 'ccrepo',
    table: 'queue_log_repo',
    before: null,
    after: {
      id: pos,
      time: '2026-03-02 14:05:09',
      callid: 'c1',
      queuename: 'Sales',
      agent,
      event: 'RINGNOANSWER',
      data1: '15000',
      data2: null,
    },
  });

void describe('processor: mirror changes of a transaction read in parts', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-processor-mirror-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('100,000 updated directory rows in parts: heap growth bounded, mirror right after the commit', async (t) => {
    const h = harness(join(dir, 'bounded'));
    h.outbox.initialize(
      [
        {
          table: 'ccdata.users',
          rows: Array.from({ length: USERS }, (_, i) => ({ pk: `u${i}`, row: stored(i, 'old') })),
        },
      ],
      { file: 'bin.000001', pos: 500 },
    );
    for (const d of h.engine.directories.values()) d.load(h.outbox.mirrorRows(d.table));
    let at20k = 0;
    for (let part = 1; part <= 100; part++) {
      await h.processor.process(renamePart(part, true));
      if (part === 20) at20k = heapAfterGc();
    }
    const growth = heapAfterGc() - at20k;
    t.diagnostic(`heap growth from 20,000 to 100,000 staged rows: ${(growth / 1048576).toFixed(1)} MB`);
    // Kept in memory, the 80,000 further changes took ~40 MB (each with its own ~330-byte name).
    assert.ok(
      growth < 8 * 1024 * 1024,
      `heap grew ${(growth / 1048576).toFixed(1)} MB from 20,000 to 100,000 staged rows`,
    );
    // Nothing of the open transaction is in the mirror yet.
    assert.ok(h.outbox.mirrorRows('ccdata.users').every((r) => r.name === 'old'));

    await h.processor.process(commitTx([ring('SIP/2007')]));
    const rows = new Map(h.outbox.mirrorRows('ccdata.users').map((r) => [r.username, r]));
    assert.equal(rows.size, USERS);
    assert.deepEqual(rows.get('u7'), { username: 'u7', phone: '2007', name: `part 100 ${'x'.repeat(300)} 7` });
    assert.equal(
      (JSON.parse(h.created[0]!.body) as { agentFullName: string }).agentFullName,
      `part 100 ${'x'.repeat(300)} 7`,
    );
    h.outbox.close();
  });

  void it('a delete and a re-insert in parts, then the commit: the last change of each row wins', async () => {
    const h = harness(join(dir, 'order'));
    h.outbox.initialize(
      [
        {
          table: 'ccdata.users',
          rows: [
            { pk: 'u1', row: stored(1, 'one') },
            { pk: 'u2', row: stored(2, 'two') },
          ],
        },
      ],
      { file: 'bin.000001', pos: 500 },
    );
    for (const d of h.engine.directories.values()) d.load(h.outbox.mirrorRows(d.table));
    const part = (changes: RowChange[]): SourceTransaction => ({
      partial: true,
      commit: { file: 'bin.000001', pos: 500 },
      timestampMs: 0,
      changes,
    });
    await h.processor.process(
      part([change({ kind: 'delete', schema: 'ccdata', table: 'users', before: user(1, 'one'), after: null })]),
    );
    await h.processor.process(
      part([change({ kind: 'insert', schema: 'ccdata', table: 'users', before: null, after: user(1, 'one again') })]),
    );
    await h.processor.process(
      part([change({ kind: 'delete', schema: 'ccdata', table: 'users', before: user(2, 'two'), after: null })]),
    );
    await h.processor.process(
      commitTx([change({ kind: 'insert', schema: 'ccdata', table: 'users', before: null, after: user(3, 'three') })]),
    );
    assert.deepEqual(
      h.outbox
        .mirrorRows('ccdata.users')
        .map((r) => `${String(r.username)}:${String(r.name)}`)
        .sort(),
      ['u1:one again', 'u3:three'],
    );
    h.outbox.close();
  });

  void it('abandoned (stream broke) or crashed mid-transaction: staged mirror changes are dropped', async () => {
    const stateDir = join(dir, 'abandon');
    const h = harness(stateDir);
    h.outbox.initialize([{ table: 'ccdata.users', rows: [{ pk: 'u1', row: stored(1, 'one') }] }], {
      file: 'bin.000001',
      pos: 500,
    });
    await h.processor.process(renamePart(1, true));
    h.processor.abandonOpenTransaction();
    await h.processor.process(commitTx([]));
    assert.deepEqual(h.outbox.mirrorRows('ccdata.users'), [stored(1, 'one')]);

    await h.processor.process(renamePart(2, true));
    h.outbox.close(); // a crash: the next start opens the store again
    const again = harness(stateDir);
    await again.processor.process(commitTx([]));
    assert.deepEqual(again.outbox.mirrorRows('ccdata.users'), [stored(1, 'one')]);
    again.outbox.close();
  });
});
