// The worker's lanes (src/delivery/worker/lanes.ts) with a sender whose answers the test gives by
// hand: which attempt starts when, under each URL's concurrency and the total of all URLs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttemptOutcome } from '../../src/delivery/types.js';
import { Lanes } from '../../src/delivery/worker/lanes.js';
import { decodeAttempt, encodeAttempt, seqOf, type AttemptTuple } from '../../src/delivery/worker/protocol.js';

const DELIVERED: AttemptOutcome = { kind: 'delivered', status: 204, durationMs: 1 };
const RETRY: AttemptOutcome = {
  kind: 'retry',
  status: 503,
  error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: '503' },
  durationMs: 1,
};

/** The lanes' clock: fixed, so an attempt with a later not-before time waits on its timer. */
const NOW = 1_000_000;

/** A chain of `n` attempts to `url`, named `${name}` (one) or `${name}.${i}`, with fresh seqs. */
let seq = 0;
function chain(url: string, name: string, n = 1, notBeforeMs?: number): AttemptTuple[] {
  return Array.from({ length: n }, (_, i) =>
    encodeAttempt(
      ++seq,
      {
        url,
        eventId: n === 1 ? name : `${name}.${i}`,
        eventName: 'AgentLog',
        occurredAtMs: 0,
        body: '{}',
        bodyFormat: 'ucontact',
        attempt: 1,
        ...(notBeforeMs === undefined ? {} : { notBeforeMs }),
      },
      i < n - 1,
    ),
  );
}

/** Lanes over a sender that records each start and answers when the test says. */
function harness(maxRunning: number, concurrency: (url: string) => number = () => 32, rateLimited?: string) {
  const started: string[] = [];
  const pending = new Map<string, (o: AttemptOutcome) => void>();
  const reported = new Map<number, AttemptOutcome['kind']>();
  const report = (s: number, o: AttemptOutcome): void => {
    assert.equal(reported.has(s), false, `attempt ${s} answered once`);
    reported.set(s, o.kind);
  };
  const lanes = new Lanes({
    send: (tuple) =>
      new Promise((resolve) => {
        const id = decodeAttempt(tuple).eventId;
        started.push(id);
        pending.set(id, resolve);
      }),
    report,
    settingsFor: (url) => ({
      concurrency: concurrency(url),
      ...(url === rateLimited ? { rateLimitPerSecond: 1 } : {}),
    }),
    maxRunning,
    now: () => NOW,
  });
  /** Answers attempt `id` and lets the lanes react (their reaction runs on a resolved promise). */
  const answer = async (id: string, outcome: AttemptOutcome = DELIVERED): Promise<void> => {
    const resolve = pending.get(id);
    assert.ok(resolve, `${id} is running`);
    pending.delete(id);
    resolve(outcome);
    await new Promise<void>((r) => setImmediate(r));
  };
  return { lanes, started, answer, reported };
}

void describe('worker lanes', () => {
  void it('runs at most maxRunning chains in all; a freed slot goes to the URL running the fewest', async () => {
    const h = harness(3);
    for (const url of ['http://a/', 'http://b/', 'http://c/'])
      for (let i = 0; i < 4; i++) h.lanes.enqueue(chain(url, `${url.at(7)}${i}`));
    assert.deepEqual(h.started, ['a0', 'a1', 'a2']);
    assert.equal(h.lanes.runningChains, 3);
    await h.answer('a0');
    assert.deepEqual(h.started, ['a0', 'a1', 'a2', 'b0'], 'one freed slot starts exactly one chain');
    await h.answer('a1');
    await h.answer('b0');
    await h.answer('a2');
    assert.deepEqual(h.started, ['a0', 'a1', 'a2', 'b0', 'c0', 'b1', 'a3'], 'the URL running the fewest first');
    assert.equal(h.lanes.runningChains, 3);
  });

  void it('gives a freed slot to the URL that waited, not to the one with the deep backlog', async () => {
    const h = harness(2);
    for (let i = 0; i < 5; i++) h.lanes.enqueue(chain('http://deep/', `d${i}`));
    h.lanes.enqueue(chain('http://other/', 'o0'));
    assert.deepEqual(h.started, ['d0', 'd1']);
    await h.answer('d0');
    await h.answer('d1');
    await h.answer('o0');
    await h.answer('d2');
    assert.deepEqual(h.started, ['d0', 'd1', 'o0', 'd2', 'd3', 'd4']);
  });

  void it("keeps a URL's own concurrency below the total", async () => {
    const h = harness(10, (url) => (url === 'http://two/' ? 2 : 32));
    for (let i = 0; i < 5; i++) h.lanes.enqueue(chain('http://two/', `t${i}`));
    h.lanes.enqueue(chain('http://free/', 'f0'));
    assert.deepEqual(h.started, ['t0', 't1', 'f0']);
    await h.answer('t1');
    assert.deepEqual(h.started, ['t0', 't1', 'f0', 't2'], 'in the order handed over');
  });

  void it('runs a chain on one slot and answers the rest unsent after a failure', async () => {
    const h = harness(1);
    const c = chain('http://a/', 'c', 3);
    h.lanes.enqueue(c);
    h.lanes.enqueue(chain('http://b/', 'next'));
    await h.answer('c.0');
    assert.deepEqual(h.started, ['c.0', 'c.1'], 'the chain keeps its slot after a delivery');
    await h.answer('c.1', RETRY);
    assert.equal(h.reported.get(seqOf(c[1]!)), 'retry');
    assert.equal(h.reported.get(seqOf(c[2]!)), 'unsent');
    assert.deepEqual(h.started, ['c.0', 'c.1', 'next'], 'its slot goes on');
  });

  void it('a cancel starts nothing, even when it ends a chain that waited for its time', () => {
    const h = harness(1);
    // The only slot is held by a chain waiting for its time (a not-before time on a URL the lanes do
    // not know as rate-limited: it counts); another URL waits for the slot.
    const timed = chain('http://timed/', 't0', 1, NOW + 60_000);
    const waiting = chain('http://b/', 'b0');
    h.lanes.enqueue(timed);
    h.lanes.enqueue(waiting);
    assert.deepEqual(h.started, []);
    h.lanes.cancel(undefined);
    assert.deepEqual(h.started, [], 'the freed slot went to nothing: everything was cancelled');
    assert.equal(h.reported.get(seqOf(timed[0]!)), 'unsent');
    assert.equal(h.reported.get(seqOf(waiting[0]!)), 'unsent');
    assert.equal(h.lanes.runningChains, 0);
  });

  void it("a rate-limited URL's chains waiting for their time hold no slot of the total", () => {
    const h = harness(1, () => 4, 'http://paced/');
    try {
      for (let i = 0; i < 3; i++) h.lanes.enqueue(chain('http://paced/', `p${i}`, 1, NOW + 60_000 + i * 1000));
      h.lanes.enqueue(chain('http://a/', 'a0'));
      assert.deepEqual(h.started, ['a0'], 'the other URL starts at once');
      assert.equal(h.lanes.runningChains, 1);
    } finally {
      // Their timers would keep the test process alive for a minute.
      h.lanes.cancel(undefined);
    }
  });

  void it('a cancel answers the waiting chains unsent and frees no slot twice', async () => {
    const h = harness(2);
    const waiting = [chain('http://a/', 'a2'), chain('http://b/', 'b1')];
    h.lanes.enqueue(chain('http://a/', 'a0'));
    h.lanes.enqueue(chain('http://a/', 'a1'));
    for (const c of waiting) h.lanes.enqueue(c);
    h.lanes.cancel(undefined);
    for (const c of waiting) assert.equal(h.reported.get(seqOf(c[0]!)), 'unsent');
    await h.answer('a0');
    await h.answer('a1');
    assert.equal(h.lanes.runningChains, 0);
    h.lanes.enqueue(chain('http://b/', 'b2'));
    h.lanes.enqueue(chain('http://b/', 'b3'));
    h.lanes.enqueue(chain('http://b/', 'b4'));
    assert.deepEqual(h.started, ['a0', 'a1', 'b2', 'b3'], 'the total is whole again after the cancel');
  });
});
