// The token bucket alone, on fake time: a smooth rate, a burst of a tenth of a second, debt after a
// chain, and exactly the wait until the next token.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { burstFor, TokenBucket } from '../../src/delivery/rate-limit.js';

const T0 = 1_000_000;

void describe('TokenBucket', () => {
  void it('starts with its burst: a tenth of a second of the rate, at least one', () => {
    assert.equal(burstFor(50), 5);
    assert.equal(burstFor(20), 2);
    assert.equal(burstFor(0.5), 1);
    assert.equal(new TokenBucket(50, T0).available(T0), 5);
  });

  void it('releases exactly the rate over a long run when drained as soon as a token is there', () => {
    const bucket = new TokenBucket(20, T0);
    let now = T0;
    let sent = 0;
    while (now < T0 + 10_000) {
      const n = bucket.available(now);
      if (n > 0) {
        bucket.take(now, n);
        sent += n;
      } else now += bucket.msUntilNext(now);
    }
    // 10 s at 20/s, plus the initial burst of 2.
    assert.ok(sent >= 200 && sent <= 203, `sent ${sent}`);
  });

  void it('is smooth: one token per 1/rate seconds once empty, never more than the burst after idling', () => {
    const bucket = new TokenBucket(10, T0);
    bucket.take(T0, 1);
    assert.equal(bucket.available(T0), 0);
    assert.equal(bucket.msUntilNext(T0), 100);
    assert.equal(bucket.available(T0 + 99), 0);
    assert.equal(bucket.available(T0 + 100), 1);
    // An hour idle still gives only the burst.
    assert.equal(bucket.available(T0 + 3_600_000), 1);
  });

  void it('a chain larger than the tokens leaves a debt the next token waits for', () => {
    const bucket = new TokenBucket(50, T0);
    bucket.take(T0, 8);
    // 5 - 8 = -3: the next whole token is 4 tokens away, 80 ms at 50/s.
    assert.equal(bucket.available(T0), 0);
    assert.equal(bucket.msUntilNext(T0), 80);
    assert.equal(bucket.available(T0 + 80), 1);
  });

  void it('time going backwards does not mint tokens', () => {
    const bucket = new TokenBucket(10, T0);
    bucket.take(T0, 1);
    assert.equal(bucket.available(T0 - 5_000), 0);
    assert.equal(bucket.msUntilNext(T0), 100);
  });

  void it('refuses a rate that is not positive', () => {
    assert.throws(() => new TokenBucket(0, T0), RangeError);
  });
});
