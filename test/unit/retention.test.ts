// Retention with a fake clock: a pruning pass deletes delivered rows older than --delivered-retention-hours
// (newer ones stay), keeps dead and cancelled rows however old, and applies --max-dead-rows to them
// (oldest first, counted, a UCW_WARN_OUTBOX_DEAD_CAP warning the first time, info after). The default
// retention is 7 days.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { Pruner } from '../../src/outbox/pruner.js';
import { StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { FakeClock } from '../helpers/fake-clock.js';

const HOUR = 3_600_000;
const URL = 'http://a.test/hook';

let pos = 4;
const ev = (id: string): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey: `agent:${id}`,
  occurredAtMs: 0,
  body: '{}',
  urls: [URL],
  source: { file: 'binlog.000001', pos: pos++ },
});

interface Line {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  msg: string;
}

void describe('retention', () => {
  let dir = '';
  let clock: FakeClock;
  let store: StateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-retention-'));
    clock = new FakeClock();
    store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Commits one event per outcome, now: 'delivered', 'dead', 'cancelled' or 'pending'. */
  const make = (kind: 'delivered' | 'dead' | 'cancelled' | 'pending', n: number): number[] => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const [d] = store.commit({ events: [ev(`${kind}-${pos}`)], mirror: [], checkpoint: { file: 'b', pos } });
      ids.push(d!.id);
      if (kind === 'delivered') store.markDelivered(d!.id, d!.url, 200, clock.now());
      if (kind === 'dead') store.markDead(d!.id, 400, 'UCW_ERR_DELIVERY_HTTP_STATUS: 400', clock.now());
      if (kind === 'cancelled') store.markCancelled(d!.id, 'UCW_WARN_DELIVERY_CANCELLED: discarded');
    }
    store.flushOutcomes();
    return ids;
  };

  const pruner = (maxDeadRows: number, lines: Line[], counted: { dead: number; cancelled: number }): Pruner =>
    new Pruner({
      outbox: store,
      retentionMs: 168 * HOUR,
      intervalMs: HOUR,
      now: () => clock.now(),
      batchRows: 3,
      deadCap: {
        max: maxDeadRows,
        store: store.deliveries,
        onPruned: (n) => {
          counted.dead += n.dead;
          counted.cancelled += n.cancelled;
        },
      },
      logger: {
        info: (fields: Record<string, unknown>, msg: string) => void lines.push({ level: 'info', fields, msg }),
        warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ level: 'warn', fields, msg }),
      } as unknown as ConstructorParameters<typeof Pruner>[0]['logger'],
    });

  void it('the default retention of delivered rows is 7 days; the dead-row cap 100,000', () => {
    const config = loadConfig({ cli: { mysqlUrl: 'mysql://u:p@127.0.0.1/', stateDir: dir }, env: {} });
    assert.equal(config.deliveredRetentionHours, 168);
    assert.equal(config.maxDeadRows, 100_000);
  });

  void it('deletes delivered rows past retention only; dead, cancelled and pending stay however old', async () => {
    const old = make('delivered', 7);
    const dead = make('dead', 2);
    const cancelled = make('cancelled', 2);
    const pending = make('pending', 1);
    await clock.advance(100 * HOUR);
    const recent = make('delivered', 2);
    await clock.advance(68 * HOUR + 1);
    const lines: Line[] = [];
    const counted = { dead: 0, cancelled: 0 };
    const result = await pruner(1_000, lines, counted).runOnce();
    assert.equal(result.pruned, 7, 'the 7 delivered 168 h + 1 ms ago');
    assert.equal(result.deadPruned, 0);
    for (const id of old) assert.equal(store.delivery(id), undefined);
    for (const id of [...dead, ...cancelled, ...pending, ...recent]) assert.ok(store.delivery(id), `${id} kept`);
    assert.deepEqual(counted, { dead: 0, cancelled: 0 });
    assert.equal(lines.filter((l) => l.level === 'warn').length, 0);
    assert.equal(lines.find((l) => l.msg === 'pruned delivered events past retention')?.fields.pruned, 7);
  });

  void it('over --max-dead-rows the oldest dead and cancelled rows go, counted; warned once, then info', async () => {
    const dead = make('dead', 4);
    const cancelled = make('cancelled', 3);
    const later = make('dead', 1);
    const lines: Line[] = [];
    const counted = { dead: 0, cancelled: 0 };
    const p = pruner(5, lines, counted);
    const first = await p.runOnce();
    assert.equal(first.deadPruned, 3);
    assert.deepEqual(counted, { dead: 3, cancelled: 0 }, 'the three lowest ids');
    for (const id of dead.slice(0, 3)) assert.equal(store.delivery(id), undefined);
    for (const id of [dead[3]!, ...cancelled, ...later]) assert.ok(store.delivery(id), `${id} kept`);
    assert.equal(store.deliveries.deadAndCancelled(), 5);
    const warned = lines.filter((l) => l.fields.code === 'UCW_WARN_OUTBOX_DEAD_CAP');
    assert.deepEqual(
      warned.map((l) => [l.level, l.fields.dead, l.fields.cancelled, l.fields.maxDeadRows]),
      [['warn', 3, 0, 5]],
    );
    // Still at the cap: nothing more. Two more dead letters: the oldest two (one dead, one cancelled) go.
    assert.equal((await p.runOnce()).deadPruned, 0);
    make('dead', 2);
    assert.equal((await p.runOnce()).deadPruned, 2);
    assert.deepEqual(counted, { dead: 4, cancelled: 1 });
    assert.equal(store.delivery(cancelled[0]!), undefined);
    assert.deepEqual(
      lines.filter((l) => l.fields.code === 'UCW_WARN_OUTBOX_DEAD_CAP').map((l) => l.level),
      ['warn', 'info'],
      'one warning per run, then info lines',
    );
  });

  void it('a cap of 0 keeps no dead or cancelled row; the longest batch time is reported', async () => {
    make('dead', 5);
    make('cancelled', 2);
    const counted = { dead: 0, cancelled: 0 };
    const result = await pruner(0, [], counted).runOnce();
    assert.equal(result.deadPruned, 7);
    assert.deepEqual(counted, { dead: 5, cancelled: 2 });
    assert.equal(store.deliveries.deadAndCancelled(), 0);
    assert.ok(result.longestBatchMs >= 0);
  });
});
