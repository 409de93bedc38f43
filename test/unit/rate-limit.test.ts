// The pacer alone, on fake time: requests 1/rate apart and never before now (no burst after idling),
// as many handed out ahead as fit in the horizon, and a late caller loses no slot within it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pacer, StartWindow } from '../../src/delivery/rate-limit.js';

const T0 = 1_000_000;

void describe('Pacer', () => {
  void it('spaces requests exactly 1/rate apart, the first one now', () => {
    const p = new Pacer(50, 1_000);
    const times = Array.from({ length: 5 }, () => p.take(T0) - T0);
    assert.deepEqual(times, [0, 20, 40, 60, 80]);
  });

  void it('hands out as many as start within the horizon, then none until time moves on', () => {
    const p = new Pacer(20, 1_000);
    assert.equal(p.room(T0), 21, 'starts at +0, +50, ..., +1000 ms');
    for (let i = 0; i < 21; i++) p.take(T0);
    assert.equal(p.room(T0), 0);
    // The 22nd starts at +1050: it fits in the horizon 50 ms from now.
    assert.equal(p.msUntilRoom(T0), 50);
    assert.equal(p.room(T0 + 49), 0);
    assert.equal(p.room(T0 + 50), 1);
    assert.equal(p.take(T0 + 50), T0 + 1050);
  });

  void it('holds the rate over a long run whatever the caller lateness within the horizon', () => {
    const p = new Pacer(50, 1_000);
    let now = T0;
    const times: number[] = [];
    // The caller wakes up at irregular, late moments (up to 700 ms late): no slot is lost.
    const lateness = [0, 300, 700, 10, 500, 0, 650];
    for (let i = 0; times.length < 1_000; i++) {
      for (let n = p.room(now); n > 0; n--) times.push(p.take(now));
      now += p.msUntilRoom(now) + lateness[i % lateness.length]!;
    }
    for (let i = 1; i < times.length; i++) assert.equal(Math.round(times[i]! - times[i - 1]!), 20);
  });

  void it('no burst after idling: the next request is now, the one after 1/rate later', () => {
    const p = new Pacer(10, 0);
    assert.equal(p.take(T0), T0);
    assert.equal(p.room(T0), 0);
    assert.equal(p.msUntilRoom(T0), 100);
    // An hour idle: one request now, then the pace again.
    const later = T0 + 3_600_000;
    assert.equal(p.room(later), 1);
    assert.equal(p.take(later), later);
    assert.equal(p.room(later), 0);
  });

  void it('heldMs: wall time some request was held back; grows with the clock, not while under the rate', () => {
    const p = new Pacer(10, 1_000);
    for (let i = 0; i < 5; i++) p.take(T0); // starts at +0 ... +400: held from +0 to +400
    assert.equal(p.heldMs(T0), 0, 'nothing of the wait has passed yet');
    assert.equal(p.heldMs(T0 + 250), 250);
    assert.equal(p.heldMs(T0 + 400), 400);
    assert.equal(p.heldMs(T0 + 10_000), 400, 'not while under the rate');
    // Under the rate: one request every 200 ms starts at once and is never held.
    for (let t = T0 + 10_000; t < T0 + 12_000; t += 200) assert.equal(p.take(t), t);
    assert.equal(p.heldMs(T0 + 12_000), 400);
    // A new backlog: overlapping waits count once.
    const t1 = T0 + 20_000;
    for (let i = 0; i < 3; i++) p.take(t1); // +0, +100, +200
    p.take(t1 + 50); // +300
    assert.equal(p.heldMs(t1 + 300), 700);
  });

  void it('refuses a rate that is not positive', () => {
    assert.throws(() => new Pacer(0), RangeError);
  });
});

void describe('StartWindow', () => {
  void it('lets at most floor(rate) starts into any second: a late catch-up cannot burst past the limit', () => {
    const w = new StartWindow(5);
    // Five late starts at once are allowed (the pacer's times had passed), the sixth waits a second.
    for (let i = 0; i < 5; i++) {
      assert.ok(w.earliest() <= T0);
      w.record(T0 + i);
    }
    assert.equal(w.earliest(), T0 + 1_000);
    w.record(T0 + 1_000);
    assert.equal(w.earliest(), T0 + 1_001);
  });

  void it('a rate under one a second: one start per 1/rate seconds', () => {
    const w = new StartWindow(0.5);
    w.record(T0);
    assert.equal(w.earliest(), T0 + 2_000);
  });

  void it('a fractional rate: floor(rate) starts per floor(rate)/rate seconds', () => {
    const w = new StartWindow(2.5);
    w.record(T0);
    w.record(T0 + 10);
    assert.equal(w.earliest(), T0 + 800);
  });
});
