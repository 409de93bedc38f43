// Event ids where rows events carry no position (MariaDB 11.4+ writes end_log_pos = 0 on every event
// inside a transaction): each row change must still get its own id, the same whether its transaction
// is read whole, in parts, or again after a restart, and every event must reach the outbox.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AnyBinlogEvent } from '@vlasky/zongji';
import type { Row, SourceTransaction } from '../../src/domain/row-change.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { StateStore } from '../../src/outbox/state-store.js';
import { mirrorTablesOf, TransactionProcessor } from '../../src/pipeline/processor.js';
import { Registry } from '../../src/registry/registry.js';
import { RulesEngine } from '../../src/rules/engine.js';
import { defaultRules } from '../../src/rules/load.js';
import { BinlogListener } from '../../src/source/binlog-listener.js';
import { mariadbGtid, QUEUE_LOG, writeRows, xid } from '../helpers/fake-binlog.js';
import { waitFor } from '../helpers/wait-for.js';

const FILE = 'binlog.000007';
const URL = 'http://127.0.0.1:9/hook';

let logId = 0;
function agentLogin(agent: string): Row {
  logId += 1;
  return {
    id: logId,
    time: '2026-03-02 14:05:09.000',
    callid: '',
    queuename: '',
    agent,
    event: 'AGENTLOGIN',
    data1: null,
    data2: null,
    data3: null,
    data4: null,
    data5: null,
  };
}

/** A listener that is never started: the test hands it events as zongji would. */
function listenerFor(
  from: { file: string; pos: number },
  handler: (tx: SourceTransaction) => Promise<void>,
  maxQueuedRows = 400,
) {
  const listener = new BinlogListener({
    conn: { host: '127.0.0.1', port: 1, user: 'x', password: 'x' } as never,
    serverId: 91_002,
    tables: ['ccrepo.queue_log_repo', 'ccdata.users'],
    from,
    heartbeatSeconds: 5,
    maxQueuedRows,
    handler,
    logger: createLogger('silent'),
  });
  return (events: AnyBinlogEvent[]): void => {
    for (const e of events) (listener as unknown as { onEvent(e: AnyBinlogEvent): void }).onEvent(e);
  };
}

interface Pipeline {
  readonly feed: (events: AnyBinlogEvent[]) => void;
  readonly outbox: StateStore;
  /** Transactions the processor finished (their last part). */
  commits(): number;
  created(): number;
}

/** Listener -> processor (default rules, AgentLog subscribed) -> a real outbox in `dir`. */
function pipeline(dir: string, from = { file: FILE, pos: 4 }, maxQueuedRows = 400): Pipeline {
  const rules = defaultRules();
  const engine = new RulesEngine(rules, 'UTC');
  const registry = new Registry(rules.registry, () => undefined);
  registry.load([{ id: 2, name: 'AgentLog', description: null, event: 'AgentLog', url: URL, user: null }]);
  const outbox = new StateStore({ stateDir: dir, synchronous: 'normal' });
  let created = 0;
  const processor = new TransactionProcessor({
    engine,
    registry,
    mirrorTables: mirrorTablesOf(engine, registry),
    outbox,
    db: { lookupValue: () => Promise.resolve(null) },
    metrics: new Metrics(),
    logger: createLogger('silent'),
    onEnqueued: (d, staged) => {
      created += d.length + [...(staged?.values() ?? [])].reduce((a, b) => a + b, 0);
    },
  });
  let commits = 0;
  const feed = listenerFor(
    from,
    async (tx) => {
      await processor.process(tx);
      if (!tx.partial) commits += 1;
    },
    maxQueuedRows,
  );
  return { feed, outbox, commits: () => commits, created: () => created };
}

/** One transaction of `n` AGENTLOGIN rows in rows events of 10, all at position 0, then its XID. */
function bigTransaction(gtid: string, n: number, commitPos: number): AnyBinlogEvent[] {
  const events = [mariadbGtid(gtid, commitPos - 5_000)];
  for (let i = 0; i < n; i += 10)
    events.push(
      writeRows(
        QUEUE_LOG,
        Array.from({ length: Math.min(10, n - i) }, (_, k) => agentLogin(`agent${i + k}`)),
      ),
    );
  events.push(xid(commitPos));
  return events;
}

void describe('event ids through the processor into a real outbox, rows events at position 0', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ucw-ids-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  void it('stores every event of transactions whose rows events all say position 0', async () => {
    const p = pipeline(tempDir());
    p.feed([
      mariadbGtid('0-1-41', 300),
      writeRows(QUEUE_LOG, [agentLogin('a1'), agentLogin('a2'), agentLogin('a3')]),
      writeRows(QUEUE_LOG, [agentLogin('a4'), agentLogin('a5')]),
      xid(900),
      mariadbGtid('0-1-42', 950),
      writeRows(QUEUE_LOG, [agentLogin('b1'), agentLogin('b2')]),
      writeRows(QUEUE_LOG, [agentLogin('b3')]),
      xid(1400),
    ]);
    await waitFor(() => p.commits() === 2, { timeoutMs: 5_000, message: () => `${p.commits()} commits` });
    const stored = p.outbox.pendingPage(URL, 0, 100);
    p.outbox.close();
    assert.equal(stored.length, 8, 'one AgentLog delivery per queue_log row');
    assert.equal(new Set(stored.map((d) => d.eventId)).size, 8, 'eight distinct ids');
  });

  void it(
    'a transaction read in parts stores every event once, ' + 'with the ids of a whole read; a replay adds none',
    async () => {
      const rows = 257;
      const events = bigTransaction('0-1-77', rows, 90_000);
      const idsOf = (o: StateStore): string[] => o.pendingPage(URL, 0, 1_000).map((d) => d.eventId);

      const whole = pipeline(tempDir(), { file: FILE, pos: 4 }, 100_000);
      whole.feed(events);
      await waitFor(() => whole.commits() === 1, { timeoutMs: 5_000 });
      const wholeIds = idsOf(whole.outbox);
      whole.outbox.close();

      const dir = tempDir();
      const parts = pipeline(dir, { file: FILE, pos: 4 }, 400);
      parts.feed(events);
      await waitFor(() => parts.commits() === 1, { timeoutMs: 5_000 });
      const partIds = idsOf(parts.outbox);
      assert.equal(parts.created(), rows, 'every row stored (parts of 100, staged, then committed)');
      parts.outbox.close();

      assert.equal(wholeIds.length, rows);
      assert.equal(new Set(wholeIds).size, rows, 'ids unique');
      assert.deepEqual(partIds, wholeIds, 'the same ids, in the same order');

      // A restart reads the transaction again from the resume point before it: same ids, nothing new.
      const again = pipeline(dir, { file: FILE, pos: 4 }, 400);
      again.feed(events);
      await waitFor(() => again.commits() === 1, { timeoutMs: 5_000 });
      assert.equal(again.created(), 0, 'a replay creates no delivery');
      assert.deepEqual(idsOf(again.outbox), wholeIds);
      again.outbox.close();
    },
  );
});
