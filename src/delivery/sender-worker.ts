// Entry of the delivery worker thread: an HttpSender that takes attempts from the dispatcher's thread
// and answers with their outcomes. HTTP is the larger half of the per-event CPU cost, so running it
// here lets the bridge use a second core (see worker-sender.ts for the other side).
//
// The dispatcher hands over more attempts per URL than there are connections; each URL's lane starts
// them here, in order, as connections free up. A connection is then reused at once, without waiting
// for a round trip through the dispatcher's thread, which is busy while a backlog is read. An
// attempt's timeout starts when it starts, not while it waits in its lane.

import { parentPort, workerData } from 'node:worker_threads';
import { HttpSender } from './http-sender.js';
import { createSigner } from './signing.js';
import type { AttemptOutcome } from './types.js';
import { fromTuple, type AttemptTuple, type FromWorker, type ToWorker, type WorkerSenderOptions } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('sender-worker.js runs as a worker thread only');

const { signingSecrets, ...options } = workerData as WorkerSenderOptions;
const sender = new HttpSender({ ...options, signer: createSigner(signingSecrets) });
const connectionsPerUrl = Math.max(1, options.connectionsPerUrl);

let delivered: number[] = [];
let other: Array<{ seq: number; outcome: AttemptOutcome }> = [];
let flushScheduled = false;
const flush = (): void => {
  flushScheduled = false;
  port.postMessage({ type: 'outcomes', delivered, other } satisfies FromWorker);
  delivered = [];
  other = [];
};
const report = (seq: number, outcome: AttemptOutcome): void => {
  if (outcome.kind === 'delivered') delivered.push(seq, outcome.status, outcome.durationMs);
  else other.push({ seq, outcome });
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
};

/**
 * Attempts that go one after another (see Sender.sendInOrder): the next starts, on the same
 * connection slot, only once the one before was delivered; after any other outcome, or a cancel,
 * the rest are answered `unsent` without a request. Most chains hold one attempt.
 */
interface Chain {
  readonly tuples: AttemptTuple[];
  next: number;
  /** The lane's cancel count when the chain started: a cancel since stops it. */
  cancels: number;
}

/** One URL's chains: at most connectionsPerUrl running, the rest waiting in order. */
interface Lane {
  running: number;
  waiting: Chain[];
  /** Cancels so far (a counter, not a set of running chains: no allocation per chain). */
  cancels: number;
}
const lanes = new Map<string, Lane>();

function start(lane: Lane, chain: Chain): void {
  lane.running++;
  chain.cancels = lane.cancels;
  step(lane, chain);
}

function step(lane: Lane, chain: Chain): void {
  const tuple = chain.tuples[chain.next++]!;
  // send() never throws: every attempt gets an outcome.
  void sender.send(fromTuple(tuple)).then((outcome) => {
    report(tuple[0], outcome);
    if (outcome.kind === 'delivered' && chain.cancels === lane.cancels && chain.next < chain.tuples.length) {
      step(lane, chain);
      return;
    }
    unsent(chain);
    lane.running--;
    const next = lane.waiting.shift();
    if (next) start(lane, next);
  });
}

/** Answers the chain's attempts not started yet as `unsent`. */
function unsent(chain: Chain): void {
  while (chain.next < chain.tuples.length) report(chain.tuples[chain.next++]![0], { kind: 'unsent' });
}

function cancel(url: string | undefined): void {
  for (const [laneUrl, lane] of lanes) {
    if (url !== undefined && laneUrl !== url) continue;
    for (const chain of lane.waiting) unsent(chain);
    lane.waiting = [];
    // A running chain finishes its current attempt; the rest come back unsent after it (in order).
    lane.cancels++;
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    cancel(msg.url);
    return;
  }
  if (msg.type === 'close') {
    cancel(undefined);
    void sender.close().then(() => {
      if (flushScheduled) flush();
      port.postMessage({ type: 'closed' } satisfies FromWorker);
    });
    return;
  }
  const batch = msg.batch;
  for (let i = 0; i < batch.length; ) {
    const first = batch[i]!;
    const tuples = [first];
    while (batch[i++]![8] === 1 && i < batch.length) tuples.push(batch[i]!);
    const chain: Chain = { tuples, next: 0, cancels: 0 };
    let lane = lanes.get(first[1]);
    if (!lane) {
      lane = { running: 0, waiting: [], cancels: 0 };
      lanes.set(first[1], lane);
    }
    if (lane.running < connectionsPerUrl) start(lane, chain);
    else lane.waiting.push(chain);
  }
});
