// IdleTrim with injected CPU time: it trims once after each busy period that went idle, never while
// busy, never twice in one idle period, never at start-up idle.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdleTrim } from '../../src/observe/idle-trim.js';

void describe('IdleTrim', () => {
  void it('trims once per busy-then-idle period (busy: > 20% of a core over a check, idle: < 3%)', () => {
    let cpu = 0;
    let released = 0;
    const trim = new IdleTrim({ cpuMicros: () => cpu, intervalMs: 5_000, release: () => released++ });
    const interval = (share: number): boolean => {
      cpu += share * 5_000_000;
      return trim.check();
    };
    assert.equal(interval(0), false, 'idle since start: nothing to give back');
    assert.equal(interval(1.5), false, 'busy');
    assert.equal(interval(0.1), false, 'winding down, not idle yet');
    assert.equal(interval(0.01), true, 'idle after busy: trimmed');
    assert.equal(released, 1);
    assert.equal(interval(0), false, 'still idle: once per idle period');
    assert.equal(interval(0.5), false);
    assert.equal(interval(0.02), true);
    assert.equal(trim.trims, 2);
  });
});
