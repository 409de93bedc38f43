import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { buildSnapshot } from '../../src/ops/status.js';
import { renderStatusText } from '../../src/ops/status-text.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const A = 'http://127.0.0.1:9/a?token=secret';
const B = 'http://127.0.0.1:9/b';

function event(id: string, urls: string[]): EnqueuedEvent {
  return {
    id,
    name: 'AgentLog',
    orderKey: `agent:${id}`,
    occurredAtMs: T0 - 1000,
    body: '{}',
    urls,
    source: { file: 'binlog.000001', pos: 4 },
    committedAtMs: T0 - 5_000,
  };
}

void describe('status from the store', () => {
  let dir = '';
  let clock = T0;
  let store: StateStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-status-'));
    clock = T0;
    store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => clock });
    // Four events to A and B: on A one delivered, one retrying, one dead, one pending never tried;
    // on B one delivered and three cancelled.
    const created = store.commit({
      events: ['e1', 'e2', 'e3', 'e4'].map((id) => event(id, [A, B])),
      mirror: [],
      checkpoint: { file: 'binlog.000003', pos: 1_234 },
      commitTimeMs: T0 - 5_000,
      gtid: '0-1-42',
    });
    const [a1, b1, a2, , a3] = created;
    clock = T0 + 1_000;
    store.markDelivered(a1!.id, a1!.url, 200, clock);
    store.markDelivered(b1!.id, b1!.url, 204, clock);
    clock = T0 + 2_000;
    store.markRetry(a2!.id, clock + 60_000, 500, 'UCW_ERR_DELIVERY_HTTP: answered 500', clock);
    clock = T0 + 3_000;
    store.markDead(a3!.id, 400, 'UCW_ERR_DELIVERY_REJECTED: answered 400 <b>bad</b>', clock);
    store.flushOutcomes();
    store.discardPending(B);
    clock = T0 + 10_000;
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('counts each URL and finds its last success and last error', () => {
    const s = store.status(20);
    assert.deepEqual(s.checkpoint, { file: 'binlog.000003', pos: 1_234, commitTimeMs: T0 - 5_000, gtid: '0-1-42' });
    assert.deepEqual(
      s.urls.map((u) => [u.url, u.pending, u.retrying, u.dead, u.cancelled, u.lastSuccessAtMs]),
      [
        [A, 2, 1, 1, 0, T0 + 1_000],
        [B, 0, 0, 0, 3, T0 + 1_000],
      ],
    );
    const a = s.urls[0]!;
    assert.deepEqual(a.lastError, {
      atMs: T0 + 3_000,
      message: 'UCW_ERR_DELIVERY_REJECTED: answered 400 <b>bad</b>',
      status: 400,
    });
    // The source commit time, as ucw_oldest_pending_age_seconds measures it, not when the bridge stored it.
    assert.equal(a.oldestPendingAtMs, T0 - 5_000);
    assert.equal(a.oldestPendingAtMs, store.oldestPendingCommit(A));
    assert.equal(s.urls[1]!.lastError, undefined, 'a cancellation is not an error of the URL');
    assert.deepEqual(
      s.deadLetters.map((d) => [d.url, d.eventId, d.attempts, d.failedAtMs, d.lastStatus]),
      [[A, 'e3', 1, T0 + 3_000, 400]],
    );
  });

  void it('reads the same from a read-only store beside the writer', () => {
    const ro = new StateStore({ stateDir: dir, synchronous: 'full', readonly: true });
    try {
      assert.deepEqual(ro.status(20), store.status(20));
    } finally {
      ro.close();
    }
  });

  void it('finds URLs with delivered rows only by a pass over the table, unless the caller names them', () => {
    const C = 'http://127.0.0.1:9/c';
    const [c] = store.commit({
      events: [event('e5', [C])],
      mirror: [],
      checkpoint: { file: 'binlog.000003', pos: 2_000 },
    });
    store.markDelivered(c!.id, c!.url, 200, clock);
    store.flushOutcomes();
    assert.deepEqual(
      store.status(20).urls.map((u) => u.url),
      [A, B, C],
    );
    // Pending, dead and cancelled rows are found on their own; the bridge names the rest (its registry).
    assert.deepEqual(
      store.status(20, []).urls.map((u) => u.url),
      [A, B],
    );
    assert.deepEqual(store.status(20, [C]).urls.find((u) => u.url === C)?.lastSuccessAtMs, clock);
  });

  void it('keeps checkpoint() a plain position', () => {
    assert.deepEqual(store.checkpoint(), { file: 'binlog.000003', pos: 1_234 });
  });

  void it('builds a store snapshot with safe URLs, ages and no live fields', () => {
    const snap = buildSnapshot({ version: '9.9.9', nowMs: clock, store: store.status(20) });
    assert.equal(snap.from, 'store');
    assert.equal(snap.source.connected, undefined);
    assert.deepEqual(snap.source.checkpoint, {
      file: 'binlog.000003',
      position: 1_234,
      gtid: '0-1-42',
      commitTime: new Date(T0 - 5_000).toISOString(),
    });
    const a = snap.urls[0]!;
    assert.equal(a.url, 'http://127.0.0.1:9/a?[redacted]', 'no query string (tokens)');
    assert.equal(a.state, 'ok');
    assert.equal(a.inFlight, 0);
    assert.equal(a.oldestPendingAgeSeconds, 15);
    assert.equal(a.lastSuccessAt, new Date(T0 + 1_000).toISOString());
    assert.equal(a.lastError?.status, 400);
    assert.equal(snap.deadLetters[0]!.url, 'http://127.0.0.1:9/a?[redacted]');
  });

  void it('takes in flight and failing/paused from the live bridge, and saved pauses without one', () => {
    const live = buildSnapshot({
      version: '9.9.9',
      nowMs: clock,
      store: store.status(20),
      live: {
        connected: true,
        urls: [
          { url: A, inFlight: 1, mode: 'failing', untilMs: clock + 5_000 },
          { url: 'http://127.0.0.1:9/new', inFlight: 0, mode: 'healthy', rateLimitedWaitMs: 12_345 },
        ],
      },
    });
    assert.equal(live.from, 'bridge');
    // Only a rate-limited URL carries its wait (per-receiver rateLimitPerSecond).
    assert.deepEqual(
      live.urls.map((u) => u.rateLimitedWaitSeconds),
      [undefined, undefined, 12.3],
    );
    assert.equal(live.source.connected, true);
    assert.deepEqual(
      live.urls.map((u) => [u.url, u.state, u.inFlight, u.pausedUntil]),
      [
        ['http://127.0.0.1:9/a?[redacted]', 'failing', 1, new Date(clock + 5_000).toISOString()],
        [B, 'ok', 0, undefined],
        ['http://127.0.0.1:9/new', 'ok', 0, undefined],
      ],
    );
    const paused = buildSnapshot({
      version: '9.9.9',
      nowMs: clock,
      store: store.status(20),
      pauses: new Map([[B, { untilMs: clock + 60_000, probeKey: 'k', sinceMs: clock }]]),
    });
    assert.equal(paused.urls[1]!.state, 'paused');
    assert.match(renderStatusText(live), /server\s+not read yet/);
    assert.match(renderStatusText(paused), /server\s+not asked \(pass --mysql-url/);
  });

  void it('renders a text summary with every URL row and the dead letter', () => {
    const snap = buildSnapshot({
      version: '9.9.9',
      nowMs: clock,
      store: store.status(20),
      server: { serverHead: { file: 'binlog.000003', position: 2_234 }, lagBytes: 1_000, lagSeconds: 15 },
    });
    const text = renderStatusText(snap);
    assert.match(text, /from the state store/);
    assert.match(text, /checkpoint\s+binlog\.000003:1234/);
    assert.match(text, /lag\s+1000 B, 15 s/);
    assert.match(text, /retention headroom\s+no automatic purge\n/);
    const capped = renderStatusText({
      ...snap,
      source: { ...snap.source, retention: { totalSizeCapBytes: 1_048_576, writeRateBytesPerSecond: 2_048 } },
    });
    assert.match(capped, /retention headroom\s+no estimate yet \(size cap 1\.0 MiB, writes 2\.0 KiB\/s\)/);
    assert.match(
      text,
      /http:\/\/127\.0\.0\.1:9\/a\?\[redacted\]\s+ok\s+2\s+0\s+1\s+1\s+0\s+15 s\s+9 s ago\s+7 s ago: 400 /,
    );
    assert.match(text, /Latest dead letters \(1\)/);
    assert.doesNotMatch(text, /secret/);
  });
});
