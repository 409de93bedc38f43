// The per-key queues of one URL alone: commit order within a key, the ready FIFO, chains of due
// deliveries, a key busy while its chain is out or its head waits for a retry, the probe's key, and
// dropping a removed registration's deliveries without touching a chain in flight.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBusy, KeyQueues } from '../../src/delivery/key-queues.js';
import type { EventName } from '../../src/domain/events.js';
import type { Delivery } from '../../src/outbox/state-store.js';

const T0 = 1_000_000;
let nextId = 0;
const delivery = (orderKey: string, eventName: EventName = 'AgentLog', nextAttemptAtMs = T0): Delivery => ({
  id: ++nextId,
  url: 'https://a.example/hook',
  orderKey,
  eventId: `e${nextId}`,
  eventName,
  occurredAtMs: 0,
  committedAtMs: 0,
  body: '{}',
  attempts: 0,
  nextAttemptAtMs,
  firstAttemptAtMs: null,
});
const fakeTimer = () => ({
  cleared: false,
  clear() {
    this.cleared = true;
  },
});

void describe('KeyQueues', () => {
  void it(
    'keys become ready in the order of their first delivery, ' + "each once; a key's deliveries stay in commit order",
    () => {
      const q = new KeyQueues();
      const [a1, b1, a2] = [delivery('a'), delivery('b'), delivery('a')];
      for (const d of [a1, b1, a2]) q.add(d);
      assert.equal(q.readyCount, 2);
      const a = q.nextReady()!;
      assert.equal(a.key, 'a');
      assert.deepEqual(a.items, [a1, a2]);
      assert.equal(q.nextReady()!.key, 'b');
      assert.equal(q.nextReady(), undefined);
    },
  );

  void it(
    'a chain takes the due deliveries from the head, at ' + 'most `max`; the key is busy until its last answer',
    () => {
      const q = new KeyQueues();
      const ds = [delivery('k'), delivery('k'), delivery('k', 'AgentLog', T0 + 5), delivery('k')];
      for (const d of ds) q.add(d);
      const kq = q.nextReady()!;
      assert.equal(q.chainLength(kq, 16, T0), 2, 'stops at the first delivery not due yet');
      assert.equal(q.chainLength(kq, 16, T0 + 5), 4);
      assert.equal(q.chainLength(kq, 3, T0 + 5), 3);
      kq.sent = 2;
      assert.equal(isBusy(kq), true);
      q.add(delivery('k'));
      assert.equal(q.readyCount, 0, 'a busy key is not ready');
      assert.equal(q.finish(kq, ds[0]!), true);
      q.release(kq);
      assert.equal(q.readyCount, 0, 'still answering its chain');
      assert.equal(q.finish(kq, ds[1]!), true);
      assert.equal(q.finish(kq, ds[1]!), false, 'finished once');
      q.release(kq);
      assert.equal(q.nextReady(), kq, 'ready again after its last answer');
    },
  );

  void it("a key waiting for its head's retry is ready again when it is due; an emptied key is dropped", () => {
    const q = new KeyQueues();
    const d = delivery('r');
    q.add(d);
    const kq = q.nextReady()!;
    kq.sent = 1;
    kq.timer = fakeTimer();
    q.release(kq);
    assert.equal(q.readyCount, 0, 'waits for its retry time');
    assert.equal(q.retryDue(kq), true);
    assert.equal(q.nextReady(), kq);
    kq.sent = 1;
    q.finish(kq, d);
    q.release(kq);
    assert.equal(q.keys.size, 0);
  });

  void it('the probe goes out on the key that got the 410, else on the first startable key', () => {
    const q = new KeyQueues();
    for (const k of ['x', 'y', 'z']) q.add(delivery(k));
    assert.equal(q.probeQueue('y', true)?.key, 'y');
    assert.deepEqual(
      [q.nextReady()?.key, q.nextReady()?.key, q.nextReady()],
      ['x', 'z', undefined],
      'the probe key left the ready FIFO',
    );
    q.add(delivery('w'));
    assert.equal(q.probeQueue('gone-key', false)?.key, 'w', 'its key has nothing left: another startable key');
    assert.equal(q.probeQueue(undefined, false), undefined, 'no startable key');
    assert.equal(q.probeQueue(undefined, true)?.key, 'x', 'paused: the first key at all');
  });

  void it(
    'drop() removes the deliveries of the events given, keeps a ' +
      'chain in flight, and frees a key whose head waited for a retry',
    () => {
      const q = new KeyQueues();
      const inFlight = delivery('c');
      const behind = delivery('c');
      const other = delivery('c', 'AgentBreak');
      const waiting = delivery('w');
      const survivor = delivery('w', 'AgentBreak');
      const alone = delivery('gone');
      for (const d of [inFlight, behind, other, waiting, survivor, alone]) q.add(d);
      const c = q.nextReady()!;
      c.sent = 1;
      const w = q.nextReady()!;
      const timer = fakeTimer();
      w.timer = timer;
      q.nextReady();
      const { dropped, inFlight: ids } = q.drop(['AgentLog']);
      assert.equal(dropped, 3, 'behind, the waiting head and the one alone');
      assert.deepEqual(ids, [inFlight.id]);
      assert.deepEqual(c.items, [inFlight, other]);
      assert.deepEqual(w.items, [survivor]);
      assert.equal(timer.cleared, true);
      assert.equal(w.timer, undefined);
      assert.equal(q.keys.has('gone'), false);
      assert.equal(q.nextReady(), w, "the survivor goes at once, not at the dropped head's retry time");
    },
  );

  void it(
    'shed() takes back the newest deliveries above every one in flight ' +
      'or waiting for a retry, all of them above one id, and drops emptied keys from the ready FIFO',
    () => {
      const q = new KeyQueues();
      // Key a: a chain of 2 in flight, 1 behind; key b: a head waiting for its retry; key c: 2 idle.
      const [a1, a2, b1, c1, a3, b2, c2] = [
        delivery('a'),
        delivery('a'),
        delivery('b'),
        delivery('c'),
        delivery('a'),
        delivery('b'),
        delivery('c'),
      ];
      for (const d of [a1, a2, b1, c1, a3, b2, c2]) q.add(d);
      const a = q.nextReady()!;
      a.sent = 2;
      const b = q.nextReady()!;
      b.timer = fakeTimer();
      const unit = () => 1;
      assert.deepEqual(q.shed(2, unit), [c2, b2], 'the two newest');
      assert.deepEqual(q.shed(10, unit), [a3, c1], 'never b1 (waits to retry) nor a chain in flight');
      assert.deepEqual(q.shed(10, unit), [], 'nothing loose is left');
      assert.deepEqual(a.items, [a1, a2]);
      assert.deepEqual(b.items, [b1]);
      assert.equal(q.keys.has('c'), false);
      assert.equal(q.readyCount, 0, 'key c left the ready FIFO with its deliveries');
      q.add(delivery('c'));
      assert.equal(q.readyCount, 1);
    },
  );

  void it(
    'shed() with a retried delivery behind newer ones of its key (deliveries retry) takes exactly ' +
      'those above its id: none stays buffered while also going back to the store',
    () => {
      const q = new KeyQueues();
      const old = delivery('a');
      const [a2, a3, a4] = [delivery('a'), delivery('a'), delivery('a')];
      for (const d of [a2, a3, a4]) q.add(d);
      q.add(old); // paged in again by a rewind: behind the newer ones of its key
      const back = q.shed(2, () => 1);
      assert.deepEqual(back, [a4, a3]);
      assert.deepEqual(q.keys.get('a')!.items, [a2, old], 'a4 and a3 left the key: only what went back');
      assert.deepEqual(
        q.shed(10, () => 1),
        [a2, old],
      );
      assert.equal(q.keys.has('a'), false);
    },
  );
});
