// StateStore cancellation: a URL's pending backlog (or that of some events, minus those in flight) is
// marked cancelled and kept; nothing else changes, and cancelled deliveries are never read as pending.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DeliveryStatus, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const A = 'http://a.test/hook';
const B = 'http://b.test/hook';
let pos = 4;
const ev = (id: string, name: EnqueuedEvent['name'], urls: string[]): EnqueuedEvent => ({
  id,
  name,
  orderKey: `agent:${id}`,
  occurredAtMs: 0,
  body: '{}',
  urls,
  source: { file: 'binlog.000001', pos: pos++ },
});

void describe('StateStore cancellation', () => {
  let dir = '';
  let outbox: StateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-cancel-'));
    outbox = new StateStore({ stateDir: dir, synchronous: 'normal' });
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("discardPending(url) cancels that URL's pending deliveries only and returns how many", () => {
    const created = outbox.commit({
      events: [ev('1', 'AgentLog', [A, B]), ev('2', 'AgentBreak', [A]), ev('3', 'AgentLog', [B])],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 100 },
    });
    outbox.markDelivered(created.find((d) => d.eventId === '2')!.id, A, 200, 0);
    assert.equal(outbox.discardPending(A), 1);
    assert.equal(outbox.discardPending(A), 0);
    assert.equal(outbox.cancelledCount(), 1);
    assert.deepEqual(outbox.pendingPage(A, 0, 10), []);
    assert.equal(outbox.pendingPage(B, 0, 10).length, 2);
    assert.deepEqual(outbox.counts(), { pending: 2, delivered: 1, dead: 0 });
    const row = outbox.delivery(created[0]!.id)!;
    assert.equal(row.status, DeliveryStatus.cancelled);
  });

  void it('cancelPending(url, events, keepIds) spares other events and the ids kept (in flight)', () => {
    const created = outbox.commit({
      events: [ev('1', 'AgentLog', [A]), ev('2', 'AgentLog', [A]), ev('3', 'AgentBreak', [A])],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 200 },
    });
    const [first, second, third] = created;
    assert.equal(outbox.cancelPending(A, ['AgentLog'], [first!.id], 'why'), 1);
    assert.equal(outbox.delivery(first!.id)!.status, DeliveryStatus.pending);
    assert.equal(outbox.delivery(second!.id)!.status, DeliveryStatus.cancelled);
    assert.equal(outbox.delivery(third!.id)!.status, DeliveryStatus.pending);
    assert.deepEqual([...outbox.pendingByUrl()], [[A, 2]]);
  });

  void it('prune() keeps cancelled deliveries past retention (until retried, or over --max-dead-rows)', () => {
    outbox.commit({
      events: [ev('1', 'AgentLog', [A]), ev('2', 'AgentLog', [B])],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 300 },
    });
    assert.equal(outbox.discardPending(A), 1);
    assert.equal(outbox.prune(Date.now() + 1, 100), 0);
    assert.equal(outbox.cancelledCount(), 1);
    // The disk budget takes them, however recent.
    assert.equal(outbox.pruneForRoom(100), 1);
    assert.equal(outbox.cancelledCount(), 0);
    assert.deepEqual(outbox.counts(), { pending: 1, delivered: 0, dead: 0 });
  });
});
