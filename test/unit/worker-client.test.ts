// WorkerClient: the HTTP attempts run on a worker thread. Against a real receiver on 127.0.0.1 it
// must send exactly what HttpSender sends (body, headers, signature), report every outcome kind,
// and never lose an attempt when its worker dies: those are answered as retryable and a new worker
// takes the next ones.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkerClient } from '../../src/delivery/worker/client.js';
import type { AttemptOutcome, DeliveryAttempt } from '../../src/delivery/types.js';
import { BridgeError } from '../../src/errors.js';
import { startReceiver, type Receiver } from '../../demo/receiver.js';
import { waitFor } from '../helpers/wait-for.js';

const KEY = Buffer.from('worker-client-test-key');
const SECRET = `whsec_${KEY.toString('base64')}`;
const OPTIONS = {
  connectTimeoutMs: 500,
  requestTimeoutMs: 2_000,
  connectionsPerUrl: 4,
  userAgent: 'ucontact-webhooks/test',
  ceSource: 'ucontact-webhooks://test-db',
  signingSecrets: [SECRET],
  concurrencyTotal: 128,
};

let n = 0;
function attempt(
  url: string,
  body = '{"event":"AgentLog","date":"2026-03-02 14:06:00","agent":"mgarcía","isLogin":true}',
): DeliveryAttempt {
  return {
    url,
    eventId: `0000000${++n}-0000-5000-8000-000000000000`,
    eventName: 'AgentLog',
    occurredAtMs: Date.UTC(2026, 2, 2, 14, 6, 0, 120),
    body,
    bodyFormat: 'ucontact',
    attempt: 1,
  };
}

/** A chain of one (how the scheduler sends a single delivery), as a promise of its outcome. */
function sendOne(s: WorkerClient, a: DeliveryAttempt): Promise<AttemptOutcome> {
  return new Promise((resolve) => s.sendInOrder([a], (_i, outcome) => resolve(outcome)));
}

void describe('WorkerClient', () => {
  let rx: Receiver;
  let sender: WorkerClient;

  before(async () => {
    rx = await startReceiver((req) => {
      if (req.path.startsWith('/fail')) return { status: 503, body: 'busy' };
      if (req.path.startsWith('/hang-cancel')) return { status: 204, delayMs: 300 };
      if (req.path.startsWith('/hang')) return 'hang';
      return { status: 204 };
    });
    sender = new WorkerClient(OPTIONS);
  });

  after(async () => {
    await sender.close();
    await rx.close();
  });

  void it('delivers from the worker: exact body, headers and a signature that verifies', async () => {
    const a = attempt(rx.urlFor('/hook?token=t'));
    const outcome = await sendOne(sender, a);
    assert.equal(outcome.kind, 'delivered');
    assert.equal(outcome.kind === 'delivered' ? outcome.status : 0, 204);
    const req = rx.requests.at(-1)!;
    assert.equal(req.body, a.body);
    assert.equal(req.headers['webhook-id'], a.eventId);
    assert.equal(req.headers['ce-type'], 'com.ucontact.AgentLog');
    assert.equal(req.headers['ce-time'], '2026-03-02T14:06:00.120Z');
    assert.equal(req.headers['user-agent'], 'ucontact-webhooks/test');
    const signed = `${a.eventId}.${req.headers['webhook-timestamp']}.${a.body}`;
    assert.equal(req.headers['webhook-signature'], `v1,${createHmac('sha256', KEY).update(signed).digest('base64')}`);
  });

  void it('answers every attempt of a batch with its own outcome', async () => {
    const attempts = Array.from({ length: 40 }, (_, i) => attempt(rx.urlFor(i % 4 === 0 ? `/fail/${i}` : `/ok/${i}`)));
    const outcomes = await Promise.all(attempts.map((a) => sendOne(sender, a)));
    outcomes.forEach((o, i) => {
      if (i % 4 === 0) {
        assert.equal(o.kind, 'retry');
        assert.equal(o.kind === 'retry' ? o.error.code : '', 'UCW_ERR_DELIVERY_HTTP_STATUS');
        assert.match(o.kind === 'retry' ? o.error.message : '', /receiver answered 503: busy/);
      } else assert.equal(o.kind, 'delivered');
    });
  });

  void it('a worker that dies answers its attempts as retryable, and the next send gets a new worker', async () => {
    const hung = sendOne(sender, attempt(rx.urlFor('/hang')));
    await waitFor(() => rx.requests.some((r) => r.path === '/hang'), {
      timeoutMs: 2_000,
      message: 'hung request not received',
    });
    // Kill the thread the way a crash would.
    await (sender as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const outcome = await hung;
    assert.equal(outcome.kind, 'retry');
    assert.equal(outcome.kind === 'retry' ? outcome.error.code : '', 'UCW_ERR_DELIVERY_NETWORK');
    assert.match(outcome.kind === 'retry' ? outcome.error.message : '', /delivery worker exited/);
    assert.equal((await sendOne(sender, attempt(rx.urlFor('/after')))).kind, 'delivered');
  });

  void it(
    'runs at most connectionsPerUrl attempts of a URL at ' + 'once and starts the others, in order, as they finish',
    async () => {
      const s = new WorkerClient({ ...OPTIONS, connectionsPerUrl: 2 });
      try {
        let running = 0;
        let most = 0;
        const order: string[] = [];
        const slow = await startReceiver((req) => {
          order.push(req.headers['webhook-id'] as string);
          running++;
          most = Math.max(most, running);
          setTimeout(() => running--, 40);
          return { status: 204, delayMs: 40 };
        });
        try {
          const attempts = Array.from({ length: 7 }, () => attempt(slow.urlFor('/lane')));
          const outcomes = await Promise.all(attempts.map((a) => sendOne(s, a)));
          assert.deepEqual(
            outcomes.map((o) => o.kind),
            Array(7).fill('delivered'),
          );
          assert.equal(most, 2, 'never more than two requests at once');
          assert.deepEqual(
            order,
            attempts.map((a) => a.eventId),
            'started in the order they were handed over',
          );
        } finally {
          await slow.close();
        }
      } finally {
        await s.close();
      }
    },
  );

  void it(
    "cancelQueued(url) answers that URL's waiting attempts " + 'as unsent, without a request; running ones finish',
    async () => {
      const s = new WorkerClient({ ...OPTIONS, connectionsPerUrl: 1 });
      try {
        const before = rx.requests.length;
        const running = sendOne(s, attempt(rx.urlFor('/hang-cancel')));
        const waiting = [
          sendOne(s, attempt(rx.urlFor('/hang-cancel'))),
          sendOne(s, attempt(rx.urlFor('/hang-cancel'))),
        ];
        const other = sendOne(s, attempt(rx.urlFor('/other-url')));
        await waitFor(() => rx.requests.some((r) => r.path === '/hang-cancel'), {
          timeoutMs: 2_000,
          message: 'first request not received',
        });
        s.cancelQueued(rx.urlFor('/hang-cancel'));
        assert.deepEqual(
          (await Promise.all(waiting)).map((o) => o.kind),
          ['unsent', 'unsent'],
        );
        assert.equal((await other).kind, 'delivered', 'another URL is not affected');
        assert.equal((await running).kind, 'delivered', 'the running attempt finishes');
        assert.equal(
          rx.requests.slice(before).filter((r) => r.path === '/hang-cancel').length,
          1,
          'only the running attempt was sent',
        );
      } finally {
        await s.close();
      }
    },
  );

  /** Hands `attempts` over as one in-order chain; resolves with their outcomes once all are answered. */
  const chainOf = (s: WorkerClient, attempts: DeliveryAttempt[]): Promise<AttemptOutcome[]> =>
    new Promise((resolve) => {
      const outcomes: AttemptOutcome[] = [];
      const order: number[] = [];
      s.sendInOrder(attempts, (i, outcome) => {
        order.push(i);
        outcomes[i] = outcome;
        if (order.length === attempts.length) {
          assert.deepEqual(
            order,
            attempts.map((_a, j) => j),
            'answered in order',
          );
          resolve(outcomes);
        }
      });
    });

  void it(
    'sendInOrder: a chain goes one request after another, in ' +
      'order; after a failure the rest come back unsent, unrequested',
    async () => {
      const s = new WorkerClient({ ...OPTIONS, connectionsPerUrl: 4 });
      try {
        const seen: string[] = [];
        let running = 0;
        let most = 0;
        const chainRx = await startReceiver((req) => {
          seen.push(req.path);
          most = Math.max(most, ++running);
          setTimeout(() => running--, 15);
          return req.path === '/c/3' ? { status: 500, body: 'no', delayMs: 15 } : { status: 204, delayMs: 15 };
        });
        try {
          const ok = await chainOf(
            s,
            [1, 2].map((i) => attempt(chainRx.urlFor(`/ok/${i}`))),
          );
          assert.deepEqual(
            ok.map((o) => o.kind),
            ['delivered', 'delivered'],
          );
          const outcomes = await chainOf(
            s,
            [1, 2, 3, 4, 5].map((i) => attempt(chainRx.urlFor(`/c/${i}`))),
          );
          assert.deepEqual(
            outcomes.map((o) => o.kind),
            ['delivered', 'delivered', 'retry', 'unsent', 'unsent'],
          );
          assert.deepEqual(seen, ['/ok/1', '/ok/2', '/c/1', '/c/2', '/c/3'], 'nothing after the failure was sent');
          assert.equal(most, 1, 'never two requests of a chain at once');
        } finally {
          await chainRx.close();
        }
      } finally {
        await s.close();
      }
    },
  );

  void it(
    'cancelQueued stops a running chain after its current request; ' +
      'a dead worker fails the open head and returns the rest unsent',
    async () => {
      const s = new WorkerClient({ ...OPTIONS, connectionsPerUrl: 2 });
      try {
        const before = rx.requests.length;
        const cancelled = chainOf(
          s,
          [1, 2, 3].map(() => attempt(rx.urlFor('/hang-cancel'))),
        );
        await waitFor(() => rx.requests.length > before, { timeoutMs: 2_000, message: 'first request not received' });
        s.cancelQueued(rx.urlFor('/hang-cancel'));
        assert.deepEqual(
          (await cancelled).map((o) => o.kind),
          ['delivered', 'unsent', 'unsent'],
        );
        assert.equal(rx.requests.length - before, 1, 'only the running request was sent');

        const answered: AttemptOutcome[] = [];
        s.sendInOrder(
          [attempt(rx.urlFor('/ok/x')), attempt(rx.urlFor('/hang')), attempt(rx.urlFor('/ok/y'))],
          (_i, o) => answered.push(o),
        );
        await waitFor(() => answered.length === 1 && rx.requests.some((r) => r.path === '/hang'), {
          timeoutMs: 2_000,
          message: 'hung request not received',
        });
        await (s as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
        await waitFor(() => answered.length === 3, { timeoutMs: 2_000, message: 'not every attempt answered' });
        const outcomes = answered;
        assert.deepEqual(
          outcomes.map((o) => o.kind),
          ['delivered', 'retry', 'unsent'],
        );
        assert.equal(outcomes[1]!.kind === 'retry' ? outcomes[1]!.error.code : '', 'UCW_ERR_DELIVERY_NETWORK');
      } finally {
        await s.close();
      }
    },
  );

  void it("starts each attempt at its not-before time (a rate's pace), in chain order", async () => {
    rx.clear();
    const t0 = Date.now() + 200;
    const paced = [0, 1, 2, 3, 4].map((i) => ({ ...attempt(rx.urlFor(`/paced/${i}`)), notBeforeMs: t0 + i * 100 }));
    const outcomes = await Promise.all([
      // One chain of three (one key) and two single attempts (other keys).
      new Promise<AttemptOutcome[]>((resolve) => {
        const got: AttemptOutcome[] = [];
        sender.sendInOrder([paced[0]!, paced[2]!, paced[4]!], (i, o) => {
          got[i] = o;
          if (got.filter(Boolean).length === 3) resolve(got);
        });
      }),
      sendOne(sender, paced[1]!),
      sendOne(sender, paced[3]!),
    ]);
    assert.deepEqual(
      outcomes.flat().map((o) => o.kind),
      Array(5).fill('delivered'),
    );
    const at = new Map(rx.requests.map((r) => [r.path, r.receivedAtMs]));
    for (let i = 0; i < 5; i++) {
      const late = at.get(`/paced/${i}`)! - (t0 + i * 100);
      assert.ok(late >= -5 && late < 80, `attempt ${i} arrived ${late} ms after its time`);
    }
  });

  void it('a cancel answers attempts waiting for their time as unsent at once, with no request', async () => {
    rx.clear();
    const url = rx.urlFor('/paced-cancel');
    const later = { ...attempt(url), notBeforeMs: Date.now() + 60_000 };
    const started = Date.now();
    const outcome = sendOne(sender, later);
    // cancelQueued flushes the attempt to the worker first: the cancel finds it waiting for its time.
    sender.cancelQueued(url);
    assert.equal((await outcome).kind, 'unsent');
    assert.ok(Date.now() - started < 5_000, "the cancel did not wait for the attempt's time");
    assert.equal(rx.requests.length, 0);
  });

  void it("applies each URL's receivers entry in the worker: its connections, timeout and headers", async () => {
    const one = rx.urlFor('/hang-cancel/one');
    const slow = rx.urlFor('/hang/slow');
    const s = new WorkerClient({
      ...OPTIONS,
      receivers: [
        { index: 0, label: 'one', url: one, concurrency: 1, headers: { 'X-Entry': 'one' } },
        { index: 1, label: 'slow', urlPrefix: rx.urlFor('/hang/'), timeoutMs: 200 },
      ],
    });
    try {
      rx.clear();
      // Concurrency 1: three attempts (three keys) go one after another, 300 ms each.
      const started = Date.now();
      const outcomes = await Promise.all([1, 2, 3].map(() => sendOne(s, attempt(one))));
      assert.deepEqual(
        outcomes.map((o) => o.kind),
        ['delivered', 'delivered', 'delivered'],
      );
      const at = rx.requests.filter((r) => r.path === '/hang-cancel/one').map((r) => r.receivedAtMs);
      assert.equal(at.length, 3);
      for (let i = 1; i < 3; i++) assert.ok(at[i]! - at[i - 1]! >= 250, `request ${i} ${at[i]! - at[i - 1]!} ms after`);
      assert.ok(Date.now() - started >= 850);
      assert.equal(rx.requests[0]!.headers['x-entry'], 'one');
      // The prefix entry's 200 ms timeout, not the default 2 s.
      const t = Date.now();
      const timedOut = await sendOne(s, attempt(slow));
      assert.equal(timedOut.kind === 'retry' ? timedOut.error.code : timedOut.kind, 'UCW_ERR_DELIVERY_TIMEOUT');
      assert.ok(Date.now() - t < 1_500, `timed out after ${Date.now() - t} ms`);
      assert.equal(rx.requests.find((r) => r.path === '/hang/slow')!.headers['x-entry'], undefined);
    } finally {
      await s.close();
    }
  });

  void it('checks its options before starting: a bad secret is a configuration error', () => {
    assert.throws(
      () => new WorkerClient({ ...OPTIONS, signingSecrets: ['whsec_not*base64'] }),
      (err: unknown) => err instanceof BridgeError && err.code === 'UCW_ERR_CONFIG_INVALID',
    );
  });

  void it('after close(), sends are answered as retryable without a request', async () => {
    const s = new WorkerClient(OPTIONS);
    await s.close();
    const before = rx.requests.length;
    const o = await sendOne(s, attempt(rx.urlFor('/closed')));
    assert.equal(o.kind, 'retry');
    assert.equal(rx.requests.length, before);
  });
});
