// safeTimeout with mock timers: a delay longer than one Node timer keeps fires neither early nor
// in a loop, and clear() stops it between its steps.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TIMER_MS, safeTimeout } from '../../src/safe-timer.js';

void describe('safeTimeout', () => {
  void it('fires a 2^32 ms delay after 2^32 ms, not after 1 ms', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    let fired = 0;
    safeTimeout(() => fired++, 2 ** 32);
    t.mock.timers.tick(1_000);
    assert.equal(fired, 0);
    t.mock.timers.tick(MAX_TIMER_MS);
    assert.equal(fired, 0);
    t.mock.timers.tick(2 ** 32 - MAX_TIMER_MS - 1_001);
    assert.equal(fired, 0);
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
    t.mock.timers.tick(2 ** 33);
    assert.equal(fired, 1, 'fired once');
  });

  void it('clear() stops a long delay between its steps; short and negative delays work as setTimeout', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    let fired = 0;
    const long = safeTimeout(() => fired++, 3 * MAX_TIMER_MS);
    t.mock.timers.tick(MAX_TIMER_MS + 5);
    long.clear();
    t.mock.timers.tick(3 * MAX_TIMER_MS);
    assert.equal(fired, 0);
    safeTimeout(() => fired++, 10);
    safeTimeout(() => fired++, -5);
    t.mock.timers.tick(0);
    assert.equal(fired, 1);
    t.mock.timers.tick(10);
    assert.equal(fired, 2);
  });
});
