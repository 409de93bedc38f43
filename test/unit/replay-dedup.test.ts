import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { applyReplay, selectForReplay, type ReplayEvent } from '../../src/ops/replay-dedup.js';
import { DeliveryStatus, StateStore } from '../../src/outbox/state-store.js';

const A = 'http://a.test/hook';
const B = 'http://b.test/hook';
const { pending, delivered, dead, staged, cancelled } = DeliveryStatus;

void describe('selectForReplay', () => {
  void it('skips a URL that has it delivered or pending, enqueues one that never had it or never got it', () => {
    const stored = [
      { url: A, status: dead },
      { url: A, status: delivered },
      { url: B, status: staged },
    ];
    assert.deepEqual(selectForReplay([A, B, 'http://c.test/'], stored, false), [
      { url: A, enqueue: false, reason: 'delivered' },
      { url: B, enqueue: false, reason: 'pending' },
      { url: 'http://c.test/', enqueue: true, reason: 'new' },
    ]);
    assert.deepEqual(selectForReplay([A], [{ url: A, status: dead }], false), [
      { url: A, enqueue: true, reason: 'dead' },
    ]);
    assert.deepEqual(selectForReplay([A], [{ url: A, status: cancelled }], false), [
      { url: A, enqueue: true, reason: 'cancelled' },
    ]);
    assert.deepEqual(selectForReplay([A], [{ url: A, status: pending }], false), [
      { url: A, enqueue: false, reason: 'pending' },
    ]);
  });

  void it('--force enqueues every URL whatever the store holds', () => {
    assert.deepEqual(selectForReplay([A, B], [{ url: A, status: delivered }], true), [
      { url: A, enqueue: true, reason: 'forced' },
      { url: B, enqueue: true, reason: 'forced' },
    ]);
  });
});

void describe('applyReplay against a state store', () => {
  let dir = '';
  let store: StateStore;
  const ev = (id: string, pos: number, urls: string[], span = { from: pos, to: pos + 50 }): ReplayEvent => ({
    id,
    name: 'AgentLog',
    orderKey: 'agent:jdoe',
    occurredAtMs: 1_000,
    body: `{"id":"${id}"}`,
    urls,
    source: { file: 'bin.000001', pos },
    span,
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-replay-'));
    store = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => 5_000 });
    // First run: e1 to A (then delivered), e2 to A (still pending); e3 never stored.
    const created = store.commit({
      events: [ev('e1', 100, [A]), ev('e2', 200, [A])],
      mirror: [],
      checkpoint: { file: 'bin.000001', pos: 300 },
    });
    store.markDelivered(created[0]!.id, created[0]!.url, 200, 4_000);
    store.flushOutcomes();
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const statuses = (): Array<[string, string, number]> => {
    const out: Array<[string, string, number]> = [];
    for (let id = 1; ; id++) {
      const d = store.delivery(id);
      if (!d) return out;
      out.push([d.eventId, d.url, d.status]);
    }
  };

  void it('a dry run decides and writes nothing', () => {
    const r = applyReplay(store, [ev('e1', 100, [A, B]), ev('e3', 250, [A])], { force: false, dryRun: true });
    assert.deepEqual(
      r.decisions.map((ds) => ds.map((d) => `${d.url}:${d.reason}`)),
      [[`${A}:delivered`, `${B}:new`], [`${A}:new`]],
    );
    assert.deepEqual(r.created, []);
    assert.equal(statuses().length, 2);
  });

  void it('adds deliveries to the stored event for a new URL, stores a missing event once, skips the rest', () => {
    const r = applyReplay(store, [ev('e1', 100, [A, B]), ev('e2', 200, [A, B]), ev('e3', 250, [B])], {
      force: false,
      dryRun: false,
    });
    assert.deepEqual(
      r.created.map((d) => [d.eventId, d.url]),
      [
        ['e1', B],
        ['e2', B],
        ['e3', B],
      ],
    );
    assert.deepEqual(statuses(), [
      ['e1', A, delivered],
      ['e2', A, pending],
      ['e1', B, pending],
      ['e2', B, pending],
      ['e3', B, pending],
    ]);
    // Replayed again: everything is there now.
    const again = applyReplay(store, [ev('e1', 100, [A, B]), ev('e3', 250, [B])], { force: false, dryRun: false });
    assert.deepEqual(again.created, []);
    assert.equal(statuses().length, 5);
  });

  void it('finds an event recorded at another start within its span (a first run that began mid-file)', () => {
    // The replay computes start 90 for e1 (the previous commit), the first run recorded 100.
    const r = applyReplay(store, [ev('e1', 90, [A], { from: 90, to: 140 })], { force: false, dryRun: true });
    assert.equal(r.decisions[0]![0]!.reason, 'delivered');
    const outside = applyReplay(store, [ev('e1', 150, [A], { from: 150, to: 190 })], { force: false, dryRun: true });
    assert.equal(outside.decisions[0]![0]!.reason, 'new');
  });

  void it('--force adds a delivery even where one was delivered', () => {
    const r = applyReplay(store, [ev('e1', 100, [A])], { force: true, dryRun: false });
    assert.equal(r.created.length, 1);
    assert.deepEqual(statuses().slice(-1), [['e1', A, pending]]);
  });
});
