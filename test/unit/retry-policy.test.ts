import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, nextAttemptAt, parseRetryAfter, type RetryPolicy } from '../../src/delivery/retry-policy.js';

const POLICY: RetryPolicy = {
  maxAttempts: 10,
  maxAgeMs: 24 * 3600_000,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
};
const T0 = 1_772_460_000_000;
const low = (): number => 0;
const high = (): number => 0.999999;

void describe('nextAttemptAt', () => {
  void it('doubles the step per attempt with equal jitter: delay in [step/2, step]', () => {
    const expected = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000];
    expected.forEach((step, i) => {
      const attempt = i + 1;
      const lo = nextAttemptAt({ policy: POLICY, attempt, firstAttemptAtMs: T0, nowMs: T0, random: low });
      const hi = nextAttemptAt({ policy: POLICY, attempt, firstAttemptAtMs: T0, nowMs: T0, random: high });
      assert.deepEqual(lo, { kind: 'retry', atMs: T0 + step / 2 }, `attempt ${attempt} low`);
      assert.deepEqual(hi, { kind: 'retry', atMs: T0 + step }, `attempt ${attempt} high`);
    });
  });

  void it('never collapses to 0 and stays within bounds for a misbehaving random()', () => {
    assert.equal(backoffDelayMs({ ...POLICY, baseDelayMs: 1 }, 1, low), 1);
    assert.equal(
      backoffDelayMs(POLICY, 1, () => -5),
      500,
    );
    assert.equal(
      backoffDelayMs(POLICY, 1, () => 7),
      1000,
    );
    assert.equal(
      backoffDelayMs(POLICY, 1, () => 0.5),
      750,
    );
  });

  void it('caps huge attempt numbers at maxDelayMs', () => {
    assert.equal(backoffDelayMs({ ...POLICY, maxAttempts: Infinity }, 5000, high), 60_000);
  });

  void it('schedules relative to now, not to the first attempt', () => {
    const r = nextAttemptAt({ policy: POLICY, attempt: 2, firstAttemptAtMs: T0, nowMs: T0 + 10_000, random: low });
    assert.deepEqual(r, { kind: 'retry', atMs: T0 + 11_000 });
  });

  void it('lets Retry-After replace the backoff, clamped to [0, maxRetryAfterMs]', () => {
    const at = (retryAfterMs: number): unknown =>
      nextAttemptAt({ policy: POLICY, attempt: 1, firstAttemptAtMs: T0, nowMs: T0, retryAfterMs, random: high });
    assert.deepEqual(at(2000), { kind: 'retry', atMs: T0 + 2000 });
    assert.deepEqual(at(120_000), { kind: 'retry', atMs: T0 + 120_000 }); // above maxDelayMs: receiver wins
    assert.deepEqual(at(3_600_000), { kind: 'retry', atMs: T0 + 300_000 });
    assert.deepEqual(at(-50), { kind: 'retry', atMs: T0 });
    assert.deepEqual(at(0), { kind: 'retry', atMs: T0 });
  });

  void it('is exhausted by attempts once attempt >= maxAttempts', () => {
    const base = { policy: { ...POLICY, maxAttempts: 3 }, firstAttemptAtMs: T0, nowMs: T0, random: low };
    assert.equal(nextAttemptAt({ ...base, attempt: 2 }).kind, 'retry');
    assert.deepEqual(nextAttemptAt({ ...base, attempt: 3 }), { kind: 'exhausted', reason: 'attempts' });
    assert.deepEqual(nextAttemptAt({ ...base, attempt: 4, retryAfterMs: 0 }), {
      kind: 'exhausted',
      reason: 'attempts',
    });
  });

  void it('is exhausted by age when the next attempt would land after firstAttempt + maxAge', () => {
    const policy = { ...POLICY, maxAgeMs: 10_000 };
    // 9000 + [500, 1000] -> 9500..10000: still inside (boundary inclusive).
    assert.deepEqual(nextAttemptAt({ policy, attempt: 1, firstAttemptAtMs: T0, nowMs: T0 + 9000, random: high }), {
      kind: 'retry',
      atMs: T0 + 10_000,
    });
    assert.deepEqual(nextAttemptAt({ policy, attempt: 1, firstAttemptAtMs: T0, nowMs: T0 + 9001, random: high }), {
      kind: 'exhausted',
      reason: 'age',
    });
    assert.deepEqual(
      nextAttemptAt({ policy, attempt: 1, firstAttemptAtMs: T0, nowMs: T0, retryAfterMs: 20_000, random: low }),
      { kind: 'exhausted', reason: 'age' },
    );
  });
});

void describe('parseRetryAfter', () => {
  const NOW = Date.UTC(2026, 2, 2, 14, 5, 9);

  void it('parses delay-seconds', () => {
    assert.equal(parseRetryAfter('2', NOW), 2000);
    assert.equal(parseRetryAfter(' 120 ', NOW), 120_000);
    assert.equal(parseRetryAfter('0', NOW), 0);
  });

  void it('parses the three HTTP-date forms of RFC 9110', () => {
    assert.equal(parseRetryAfter('Mon, 02 Mar 2026 14:05:39 GMT', NOW), 30_000);
    assert.equal(parseRetryAfter('Monday, 02-Mar-26 14:06:09 GMT', NOW), 60_000);
    assert.equal(parseRetryAfter('Mon Mar  2 14:05:19 2026', NOW), 10_000);
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 0)), 37_000);
  });

  void it('returns 0 for a date in the past', () => {
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW), 0);
  });

  void it('returns undefined for absent or garbage values', () => {
    for (const v of [
      undefined,
      '',
      '   ',
      '-1',
      '1.5',
      'soon',
      '2 seconds',
      '0x10',
      'Mon, 31 Feb 2026 14:05:39 GMT',
      'Mon, 02 Foo 2026 14:05:39 GMT',
      'Mon, 02 Mar 2026 25:05:39 GMT',
      '2026-03-02T14:05:39Z',
      'Mon, 02 Mar 2026 14:05:39 UTC',
    ]) {
      assert.equal(parseRetryAfter(v, NOW), undefined, `value ${JSON.stringify(v)}`);
    }
  });
});
