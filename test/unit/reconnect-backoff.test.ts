import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReconnectBackoff } from '../../src/source/reconnect-backoff.js';

const MIN = 500;
const MAX = 30_000;
const HEALTHY = 60_000;

function backoff(): { b: ReconnectBackoff; advance: (ms: number) => void } {
  let t = 1_772_460_000_000;
  const b = new ReconnectBackoff({ minMs: MIN, maxMs: MAX, healthyAfterMs: HEALTHY, now: () => t });
  return { b, advance: (ms) => (t += ms) };
}

void describe('ReconnectBackoff', () => {
  void it('doubles per consecutive failure up to the cap', () => {
    const { b } = backoff();
    const delays = Array.from({ length: 9 }, () => b.failed().delayMs);
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  void it('failures after short-lived streams keep growing (a flapping source is not hammered)', () => {
    const { b, advance } = backoff();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      b.up();
      advance(HEALTHY - 1);
      delays.push(b.failed().delayMs);
    }
    assert.deepEqual(delays, [500, 1000, 2000, 4000]);
  });

  void it('starts over at the minimum once a stream stayed open for the healthy period', () => {
    const { b, advance } = backoff();
    // Six outages early in the process's life reach the cap...
    for (let i = 0; i < 7; i++) b.failed();
    assert.deepEqual(b.failed(), { delayMs: MAX, failures: 8 });
    // ...then a day of healthy streaming: the next outage waits the minimum again.
    b.up();
    advance(24 * 3600_000);
    assert.deepEqual(b.failed(), { delayMs: MIN, failures: 1 });
    assert.deepEqual(b.failed(), { delayMs: 2 * MIN, failures: 2 });
  });

  void it('a stream that was up long ago but failed to reopen since does not reset the count', () => {
    const { b, advance } = backoff();
    b.up();
    advance(HEALTHY);
    assert.equal(b.failed().failures, 1);
    advance(HEALTHY * 10);
    assert.equal(b.failed().failures, 2);
  });
});
