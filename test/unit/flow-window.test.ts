// The flow window with mock timers: reading waits only on deliveries that can drain, on the store's
// size (read at most once per BYTES_CHECK_MS while there is room), and while every URL it writes to is
// behind (hysteresis); pages come from the store in id order; failing or paused URLs never hold reading.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { flush } from '../helpers/fake-clock.js';
import { AHEAD_WHEN_BUSY, BYTES_CHECK_MS, FlowWindow, type PageSink } from '../../src/delivery/flow-window.js';
import { KeyQueues } from '../../src/delivery/key-queues.js';
import type { Delivery } from '../../src/outbox/state-store.js';

interface LogLine {
  level: string;
  msg: string;
  code?: string;
}

const NONE: ReadonlySet<string> = new Set();

void describe('FlowWindow: the outbox limits', () => {
  const setup = (maxPending: number, maxBytes: number) => {
    const state = { bytes: 0, bytesReads: 0 };
    const logs: LogLine[] = [];
    const metrics = new Metrics();
    const window = new FlowWindow({
      store: { pendingPage: () => [] },
      maxPending,
      maxBytes,
      usedBytes: () => {
        state.bytesReads++;
        return state.bytes;
      },
      // Nothing delivered or cancelled to prune: the store's size is what holds reading here.
      reclaim: () => Promise.resolve(0),
      metrics,
      logger: createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) }),
    });
    const uw = window.open('https://a.example/hook');
    /** Sets the pending deliveries that can drain (one healthy URL's). */
    const drainable = (n: number): void =>
      n > uw.pending ? window.staged(uw, n - uw.pending) : window.cancelled(uw, [], uw.pending - n);
    return { state, logs, metrics, window, drainable };
  };
  const gauge = async (g: Metrics['sourcePaused']): Promise<number | undefined> => (await g.get()).values[0]?.value;

  void it('waits while the deliveries that can drain reach the limit, and goes on below it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { logs, metrics, window, drainable } = setup(10, 1_000_000);
    drainable(9);
    await Promise.resolve(window.roomFor(NONE));
    drainable(10);
    let done = false;
    void Promise.resolve(window.roomFor(NONE)).then(() => (done = true));
    await flush();
    assert.equal(done, false);
    assert.equal(await gauge(metrics.sourcePaused), 1);
    assert.deepEqual(
      logs.filter((l) => l.code).map((l) => l.code),
      ['UCW_WARN_OUTBOX_FULL'],
    );
    t.mock.timers.tick(1_000);
    await flush();
    assert.equal(done, false, 'went on at the limit');
    drainable(9);
    t.mock.timers.tick(100);
    await flush();
    assert.equal(done, true);
    assert.equal(await gauge(metrics.sourcePaused), 0);
  });

  void it(
    'waits while the store is at --max-outbox-bytes (coded ' +
      'UCW_WARN_OUTBOX_DISK_FULL), reading its size once per BYTES_CHECK_MS',
    async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
      const { state, logs, metrics, window } = setup(10, 5_000);
      state.bytes = 4_000;
      for (let i = 0; i < 50; i++) await Promise.resolve(window.roomFor(NONE));
      assert.equal(state.bytesReads, 1, 'the size is read once per BYTES_CHECK_MS, not per transaction');
      assert.equal(await gauge(metrics.outboxBytes), 4_000);
      state.bytes = 6_000;
      await Promise.resolve(window.roomFor(NONE));
      assert.equal(state.bytesReads, 1);
      t.mock.timers.tick(BYTES_CHECK_MS);
      let done = false;
      void Promise.resolve(window.roomFor(NONE)).then(() => (done = true));
      await flush();
      assert.equal(done, false);
      assert.equal(await gauge(metrics.outboxBytes), 6_000);
      assert.deepEqual(
        logs.filter((l) => l.code).map((l) => l.code),
        ['UCW_WARN_OUTBOX_DISK_FULL'],
      );
      state.bytes = 4_500;
      t.mock.timers.tick(100);
      await flush();
      assert.equal(done, true);
    },
  );

  void it('stop() lets a waiting source go', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { window, drainable } = setup(1, 1_000_000);
    drainable(5);
    let done = false;
    void Promise.resolve(window.roomFor(NONE)).then(() => (done = true));
    await flush();
    window.release();
    t.mock.timers.tick(100);
    await flush();
    assert.equal(done, true);
  });
});

void describe('FlowWindow: buffering and paging', () => {
  const URL = 'https://a.example/hook';
  const OTHER = 'https://b.example/hook';
  const delivery = (id: number, url = URL): Delivery => ({
    id,
    url,
    orderKey: `agent:${id}`,
    eventId: `e${id}`,
    eventName: 'AgentLog',
    occurredAtMs: 0,
    committedAtMs: 0,
    body: '{}',
    attempts: 0,
    nextAttemptAtMs: 0,
    firstAttemptAtMs: null,
  });
  /** A store of `rows` pending deliveries of URL (ids 1..rows), counting its page reads. */
  const setup = (rows: number, maxBufferedPerUrl: number) => {
    const pages: Array<{ afterId: number; limit: number }> = [];
    const store = {
      pendingPage: (url: string, afterId: number, limit: number): Delivery[] => {
        pages.push({ afterId, limit });
        return Array.from({ length: rows }, (_, i) => delivery(i + 1, url))
          .filter((d) => d.id > afterId)
          .slice(0, limit);
      },
    };
    const window = new FlowWindow({
      store,
      // Each delivery counts 1: the budget is a count of deliveries here.
      maxBufferedBytes: maxBufferedPerUrl,
      costOf: () => 1,
      maxPending: Infinity,
      maxBytes: Infinity,
      usedBytes: () => 0,
      reclaim: () => Promise.resolve(0),
      metrics: new Metrics(),
      logger: createLogger('silent'),
    });
    const buffered: number[] = [];
    const sink: PageSink = { readyCount: 0, add: (d) => void buffered.push(d.id), shed: () => [] };
    return { window, pages, buffered, sink };
  };

  void it(
    'pages the store in id order, a page at a time, never more ' +
      'than the buffer holds, never for less than a quarter of it',
    () => {
      const { window, pages, buffered, sink } = setup(12, 8);
      window.restore(12, new Map([[URL, 12]]), () => sink);
      const uw = window.open(URL);
      assert.deepEqual(buffered, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(pages, [{ afterId: 0, limit: 8 }]);
      window.finished(uw, delivery(0));
      window.refill(uw, sink);
      assert.equal(pages.length, 1, 'a page read for one free place');
      window.finished(uw, delivery(0));
      window.refill(uw, sink);
      assert.deepEqual(pages.at(-1), { afterId: 8, limit: 2 });
      assert.deepEqual(buffered.slice(8), [9, 10]);
      for (let i = 0; i < 4; i++) window.finished(uw, delivery(0));
      window.refill(uw, sink);
      assert.deepEqual(buffered.slice(10), [11, 12]);
      assert.equal(uw.moreInStore, false, 'a short page: the store holds no more');
      assert.equal(window.pending, 6);
    },
  );

  void it(
    'with its sender at least half full, a URL pages no more once AHEAD_WHEN_BUSY deliveries ' +
      'wait unsent, though no key is ready; with its sender less busy it pages on to its budget',
    () => {
      const { window, pages, buffered, sink } = setup(30_000, 20_000);
      window.restore(30_000, new Map([[URL, 30_000]]), () => sink);
      const uw = window.open(URL);
      assert.equal(buffered.length, 2_000, 'the start-up page');
      // 1,000 of them in flight: the sender is busy, the other 1,000 wait behind their keys.
      window.refill(uw, sink, false, 1_000);
      assert.equal(buffered.length - 1_000, AHEAD_WHEN_BUSY + 1_000, 'whole pages up to the limit of waiting ones');
      const read = pages.length;
      window.refill(uw, sink, false, 1_000);
      assert.equal(pages.length, read, 'no page while the waiting ones are over the limit');
      window.refill(uw, sink);
      assert.equal(buffered.length, 20_000, 'a sender with room: paged on to the budget');
    },
  );

  void it(
    'a committed delivery is buffered, unless older ones wait in ' +
      'the store, the buffer is full or the URL is failing or paused',
    () => {
      const { window, buffered, sink } = setup(0, 2);
      const uw = window.open(URL);
      window.committed(uw, delivery(1), sink);
      window.committed(uw, delivery(2), sink);
      window.committed(uw, delivery(3), sink);
      assert.deepEqual(buffered, [1, 2]);
      assert.equal(uw.moreInStore, true);
      const other = window.open(OTHER);
      window.setStalled(other, true);
      window.committed(other, delivery(4, OTHER), sink);
      assert.deepEqual(buffered, [1, 2], 'a failing or paused URL buffers nothing new');
      assert.equal(window.pending, 4);
      assert.equal(window.drainable, 3, 'a failing or paused URL drains nothing');
    },
  );

  void it(
    'reading waits while every URL is behind, and goes ' + 'on once one has two pages of room (hysteresis)',
    async () => {
      // maxBuffered 8: pages of 2, so reading stops at 6 buffered and goes on below 4.
      const { window, sink } = setup(0, 8);
      const uw = window.open(URL);
      for (let id = 1; id <= 5; id++) window.committed(uw, delivery(id), sink);
      assert.equal(window.roomFor(new Set([URL])), undefined, '5 of 8 buffered: room');
      window.committed(uw, delivery(6), sink);
      const wait = window.roomFor(new Set([URL]));
      assert.ok(wait, '6 of 8 buffered: reading waits');
      assert.equal(window.roomFor(new Set([URL, OTHER])), undefined, 'another URL has room');
      let done = false;
      void wait.then(() => (done = true));
      for (let left = 5; left >= 4; left--) {
        window.finished(uw, delivery(0));
        await flush();
        assert.equal(done, false, `still waiting with ${left} buffered`);
      }
      window.finished(uw, delivery(0));
      await flush();
      assert.equal(done, true, 'not let go at 3 buffered');
    },
  );

  void it(
    'a URL turning failing or paused lets waiting reading ' +
      'go: its backlog goes to the store; release() is for good',
    async () => {
      const { window, sink } = setup(0, 4);
      const uw = window.open(URL);
      for (let id = 1; id <= 4; id++) window.committed(uw, delivery(id), sink);
      const wait = window.roomFor(new Set([URL]));
      assert.ok(wait);
      let done = false;
      void wait.then(() => (done = true));
      window.setStalled(uw, true);
      await flush();
      assert.equal(done, true);
      window.setStalled(uw, false);
      assert.ok(window.roomFor(new Set([URL])), 'healthy again and behind: reading waits');
      window.release();
      assert.equal(window.roomFor(new Set([URL])), undefined);
    },
  );
});

void describe('FlowWindow: one budget for all URLs, shared fairly', () => {
  const SLOW = 'https://slow.example/hook';
  const FAST = 'https://fast.example/hook';
  let id = 0;
  const delivery = (url: string): Delivery => ({
    id: ++id,
    url,
    orderKey: `agent:${id}`,
    eventId: `e${id}`,
    eventName: 'AgentLog',
    occurredAtMs: 0,
    committedAtMs: 0,
    body: '{}',
    attempts: 0,
    nextAttemptAtMs: 0,
    firstAttemptAtMs: null,
  });
  /** A budget of 32 deliveries (each counts 1), a store holding every delivery committed. */
  const setup = () => {
    id = 0;
    const rows: Delivery[] = [];
    const store = {
      pendingPage: (url: string, afterId: number, limit: number): Delivery[] =>
        rows.filter((d) => d.url === url && d.id > afterId).slice(0, limit),
    };
    const window = new FlowWindow({
      store,
      maxBufferedBytes: 32,
      costOf: () => 1,
      maxPending: Infinity,
      maxBytes: Infinity,
      usedBytes: () => 0,
      reclaim: () => Promise.resolve(0),
      metrics: new Metrics(),
      logger: createLogger('silent'),
    });
    const queues = { [SLOW]: new KeyQueues(), [FAST]: new KeyQueues() };
    const win = { [SLOW]: window.open(SLOW, queues[SLOW]), [FAST]: window.open(FAST, queues[FAST]) };
    const commit = (url: typeof SLOW | typeof FAST, n: number): void => {
      for (let i = 0; i < n; i++) {
        const d = delivery(url);
        rows.push(d);
        window.committed(win[url], d, queues[url]);
      }
    };
    const ids = (url: string): number[] =>
      [...queues[url as typeof SLOW].deliveries()].map((d) => d.id).sort((a, b) => a - b);
    return { window, queues, win, commit, ids };
  };

  void it('a slow URL holding the whole budget sheds its newest deliveries down to its share', () => {
    const { window, win, commit, ids } = setup();
    commit(SLOW, 32);
    assert.equal(window.bufferedBytes, 32, 'alone, it may take it all');
    commit(FAST, 1);
    // Shed in steps of a sixteenth of the budget (2): ids 31 and 32 went back to the store.
    assert.deepEqual(ids(FAST), [33]);
    assert.equal(win[SLOW].buffered, 30);
    assert.equal(win[SLOW].loadedUpTo, 30);
    assert.equal(win[SLOW].moreInStore, true);
    commit(FAST, 15);
    assert.equal(win[FAST].buffered, 16, 'the fast URL has its fair share');
    assert.equal(win[SLOW].buffered, 16);
    assert.deepEqual(
      ids(SLOW),
      Array.from({ length: 16 }, (_, i) => i + 1),
      'the oldest 16 stay, in order',
    );
    assert.equal(window.bufferedBytes, 32, 'never over the budget');
    commit(FAST, 1);
    assert.equal(win[FAST].buffered, 16, 'at its share with the budget spent: the next one waits in the store');
    assert.equal(win[FAST].moreInStore, true);
    assert.equal(window.bufferedBytes, 32);
  });

  void it('what went back is paged in again in id order once there is room', () => {
    const { window, queues, win, commit, ids } = setup();
    commit(SLOW, 32);
    commit(FAST, 16);
    assert.equal(win[SLOW].buffered, 16);
    // The fast URL drains all it has and has nothing more: the slow one may take what it leaves.
    for (const d of [...queues[FAST].deliveries()]) {
      queues[FAST].finish(queues[FAST].keys.get(d.orderKey)!, d);
      window.finished(win[FAST], d);
    }
    assert.equal(win[FAST].pending, 0);
    window.refill(win[SLOW], queues[SLOW]);
    assert.deepEqual(
      ids(SLOW),
      Array.from({ length: 32 }, (_, i) => i + 1),
    );
    assert.equal(window.bufferedBytes, 32);
  });

  void it('a failing URL out of the split gives back all it holds but deliveries in flight', () => {
    const { window, queues, win, commit, ids } = setup();
    commit(SLOW, 20);
    const kq = queues[SLOW].nextReady()!;
    kq.sent = 1;
    window.setStalled(win[SLOW], true);
    commit(FAST, 32);
    assert.deepEqual(ids(SLOW), [1], 'only the one in flight');
    assert.equal(win[FAST].buffered, 31);
    assert.equal(window.bufferedBytes, 32);
  });

  void it('a retried delivery above what a shed gives back: the shed rows and it are paged in again', () => {
    const { window, queues, win, commit, ids } = setup();
    commit(SLOW, 32);
    // Delivery 30 went dead; the operator retries it (deliveries retry): pending again, below loadedUpTo.
    const d30 = [...queues[SLOW].deliveries()].find((d) => d.id === 30)!;
    queues[SLOW].finish(queues[SLOW].keys.get(d30.orderKey)!, d30);
    window.finished(win[SLOW], d30);
    // (The store holds it as pending again: nothing pages in between.)
    window.requeued(win[SLOW], 1, 30);
    assert.equal(win[SLOW].rewindFrom, 29);
    // The fast URL takes its share: the slow one sheds down to 1..16, below the rewind.
    commit(FAST, 16);
    assert.equal(win[SLOW].loadedUpTo, 16);
    for (const d of [...queues[FAST].deliveries()]) {
      queues[FAST].finish(queues[FAST].keys.get(d.orderKey)!, d);
      window.finished(win[FAST], d);
    }
    window.refill(win[SLOW], queues[SLOW]);
    assert.deepEqual(
      ids(SLOW),
      Array.from({ length: 32 }, (_, i) => i + 1),
      '17..29 (shed) and 30 (retried) are all paged in again, once each',
    );
    assert.equal(win[SLOW].buffered, 32);
    assert.equal(window.bufferedBytes, 32);
  });
});
