// The URL health state machine alone: inputs in, actions out, no timers or I/O. healthy -> failing
// after FAILURES_TO_FAILING retryable failures, growing waits, probing, resume on an answer; 410 ->
// paused, re-paused by a 410 to the probe, resumed only by a 2xx to the probe; stale wait timers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURES_TO_FAILING, pausedAgeStart, UrlHealth } from '../../src/delivery/url-health.js';

const POLICY = { baseDelayMs: 100, maxDelayMs: 400, maxRetryAfterMs: 5_000 };
const PAUSE_MS = 60_000;
const T0 = 1_000_000;

void describe('UrlHealth', () => {
  void it(
    'marks a URL failing after FAILURES_TO_FAILING retryable failures ' +
      'in a row, once per outage; an answer between resets the count',
    () => {
      const h = new UrlHealth(POLICY, PAUSE_MS);
      for (let i = 1; i < FAILURES_TO_FAILING; i++) assert.equal(h.failed(undefined, T0), undefined);
      assert.equal(h.answered(200, true), undefined, 'a healthy URL answering changes nothing');
      for (let i = 1; i < FAILURES_TO_FAILING; i++) assert.equal(h.failed(undefined, T0), undefined);
      assert.deepEqual(h.failed(undefined, T0), {
        kind: 'failing',
        untilMs: T0 + 100,
        waitMs: 100,
        failuresInARow: FAILURES_TO_FAILING,
        firstOfOutage: true,
      });
      assert.equal(h.mode, 'failing');
      assert.equal(h.stalled, true);
      assert.equal(h.failed(undefined, T0), undefined, 'a failure from before the wait: no new wait');
    },
  );

  void it(
    'a failing URL probes after its wait; a failed probe waits twice ' +
      'as long (capped), honouring Retry-After; an answer resumes it',
    () => {
      const h = new UrlHealth(POLICY, PAUSE_MS);
      for (let i = 0; i < FAILURES_TO_FAILING; i++) h.failed(undefined, T0);
      assert.equal(h.waitOver(h.epoch - 1), undefined, 'a stale timer does nothing');
      assert.deepEqual(h.waitOver(h.epoch), { kind: 'probe', mode: 'failing' });
      assert.equal(h.probing, true);
      const again = h.failed(undefined, T0 + 100);
      assert.equal(again?.kind === 'failing' && again.waitMs, 200);
      assert.equal(again?.kind === 'failing' && again.firstOfOutage, false);
      h.waitOver(h.epoch);
      const asked = h.failed(3_000, T0);
      assert.equal(asked?.kind === 'failing' && asked.waitMs, 3_000, 'Retry-After longer than the backoff');
      h.waitOver(h.epoch);
      const capped = h.failed(undefined, T0);
      assert.equal(capped?.kind === 'failing' && capped.waitMs, 400);
      const resumed = h.answered(503, false);
      assert.deepEqual(resumed && { kind: resumed.kind, from: resumed.kind === 'resumed' && resumed.from }, {
        kind: 'resumed',
        from: 'failing',
      });
      assert.equal(h.mode, 'healthy');
      for (let i = 1; i < FAILURES_TO_FAILING; i++) h.failed(undefined, T0);
      const next = h.failed(undefined, T0);
      assert.equal(next?.kind === 'failing' && next.firstOfOutage, true, 'a new outage is told again');
    },
  );

  void it('410 pauses the URL; 410s in flight wait for the same pause; only a 2xx to the probe resumes it', () => {
    const h = new UrlHealth(POLICY, PAUSE_MS);
    assert.deepEqual(h.gone('agent:a', T0), { kind: 'paused', untilMs: T0 + PAUSE_MS, pauseMs: PAUSE_MS });
    assert.equal(h.probeKey, 'agent:a');
    assert.equal(h.gone('agent:b', T0 + 5), undefined, 'a 410 already in flight: the same pause');
    assert.equal(h.answered(200, true), undefined, 'a 2xx in flight from before the pause does not end it');
    for (let i = 0; i < FAILURES_TO_FAILING; i++)
      assert.equal(h.failed(undefined, T0), undefined, 'a paused URL is not marked failing');
    assert.deepEqual(h.waitOver(h.epoch), { kind: 'probe', mode: 'paused' });
    assert.equal(h.answered(400, false), undefined, 'a 4xx to the probe leaves it paused');
    const again = h.gone('agent:a', T0 + PAUSE_MS);
    assert.deepEqual(again, { kind: 'paused', untilMs: T0 + 2 * PAUSE_MS, pauseMs: PAUSE_MS });
    assert.equal(h.sinceMs, T0, 'a re-pause keeps when the pause began');
    h.waitOver(h.epoch);
    assert.deepEqual(h.answered(200, true), {
      kind: 'resumed',
      from: 'paused',
      sinceMs: T0,
      why: 'probe answered 200',
    });
    assert.equal(h.saved(), undefined);
  });

  void it('a failing URL answering 410 turns paused; a saved pause restores as paused, probing when it is over', () => {
    const h = new UrlHealth(POLICY, PAUSE_MS);
    for (let i = 0; i < FAILURES_TO_FAILING; i++) h.failed(undefined, T0);
    h.waitOver(h.epoch);
    assert.equal(h.gone('agent:a', T0 + 100)?.kind, 'paused');
    assert.deepEqual(h.saved(), { untilMs: T0 + 100 + PAUSE_MS, probeKey: 'agent:a', sinceMs: T0 + 100 });

    const restored = new UrlHealth(POLICY, PAUSE_MS);
    restored.restore({ untilMs: T0 + 10, probeKey: 'agent:z', sinceMs: T0 - 50 }, 'agent:z', T0);
    assert.equal(restored.mode, 'paused');
    assert.equal(restored.probing, false);
    const over = new UrlHealth(POLICY, PAUSE_MS);
    over.restore({ untilMs: T0 - 10, probeKey: undefined, sinceMs: undefined }, 'agent:y', T0);
    assert.equal(over.probing, true);
    assert.equal(over.sinceMs, T0, 'no saved start: the pause counts from now');
    assert.deepEqual(over.nothingToProbe(), {
      kind: 'resumed',
      from: 'paused',
      sinceMs: T0,
      why: 'nothing left to send',
    });
  });

  void it('a pause spends no age budget: the first attempt time moves on by the time paused since', () => {
    assert.equal(pausedAgeStart(T0, T0 + 1_000, T0 + 5_000), T0 + 4_000, 'failed before the pause');
    assert.equal(pausedAgeStart(T0 + 2_000, T0, T0 + 5_000), T0 + 5_000, 'first tried during the pause');
    const h = new UrlHealth(POLICY, PAUSE_MS);
    assert.equal(h.ageStart(T0, T0 + 9_000), T0, 'healthy: unchanged');
    h.gone('agent:a', T0 + 1_000);
    assert.equal(h.ageStart(T0, T0 + 9_000), T0 + 8_000);
  });
});
