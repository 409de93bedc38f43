// The messages between the scheduler's thread and the delivery worker: what is encoded on one side is
// decoded the same on the other, chains keep their bounds, and every outcome comes back once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttemptOutcome, DeliveryAttempt } from '../../src/delivery/types.js';
import {
  cancelMessage,
  decodeAttempt,
  decodeOutcomes,
  encodeAttempt,
  forEachChain,
  OutcomeBatch,
  seqOf,
  urlOf,
} from '../../src/delivery/worker/protocol.js';

const attempt = (n: number, url = 'http://127.0.0.1:9/hook'): DeliveryAttempt => ({
  url,
  eventId: `0000000${n}-0000-5000-8000-000000000000`,
  eventName: 'AgentLog',
  occurredAtMs: Date.UTC(2026, 2, 2, 14, 6, 0, n),
  body: `{"n":${n}}`,
  bodyFormat: n % 2 === 0 ? 'envelope' : 'ucontact',
  attempt: n,
});

void describe('worker protocol', () => {
  void it('an attempt decodes to what was encoded, with its seq and URL readable', () => {
    const a = attempt(3, 'https://hooks.example.com/in?token=t');
    const t = encodeAttempt(41, a, false);
    assert.deepEqual(decodeAttempt(t), a);
    assert.equal(seqOf(t), 41);
    assert.equal(urlOf(t), a.url);
  });

  void it('a batch splits back into the chains it was encoded from, in order', () => {
    const batch = [
      encodeAttempt(1, attempt(1), false),
      encodeAttempt(2, attempt(2), true),
      encodeAttempt(3, attempt(3), true),
      encodeAttempt(4, attempt(4), false),
      encodeAttempt(5, attempt(5), false),
    ];
    const chains: number[][] = [];
    forEachChain(batch, (chain) => chains.push(chain.map(seqOf)));
    assert.deepEqual(chains, [[1], [2, 3, 4], [5]]);
    const empty: number[][] = [];
    forEachChain([], (chain) => empty.push(chain.map(seqOf)));
    assert.deepEqual(empty, []);
  });

  void it('outcomes come back once each, and a batch starts empty after take()', () => {
    const sent: Array<[number, AttemptOutcome]> = [
      [7, { kind: 'delivered', status: 204, durationMs: 3 }],
      [
        8,
        {
          kind: 'retry',
          status: 503,
          retryAfterMs: 1000,
          error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 503' },
          durationMs: 5,
        },
      ],
      [9, { kind: 'unsent' }],
      [10, { kind: 'delivered', status: 200, durationMs: 0 }],
    ];
    const batch = new OutcomeBatch();
    for (const [seq, outcome] of sent) batch.add(seq, outcome);
    const got = new Map<number, AttemptOutcome>();
    decodeOutcomes(batch.take(), (seq, outcome) => {
      assert.equal(got.has(seq), false, `seq ${seq} answered once`);
      got.set(seq, outcome);
    });
    assert.deepEqual(got, new Map(sent));
    let more = 0;
    decodeOutcomes(batch.take(), () => more++);
    assert.equal(more, 0);
  });

  void it('a cancel names its URL only when it has one', () => {
    assert.deepEqual(cancelMessage(undefined), { type: 'cancel' });
    assert.deepEqual(cancelMessage('http://127.0.0.1:9/hook'), { type: 'cancel', url: 'http://127.0.0.1:9/hook' });
  });
});
