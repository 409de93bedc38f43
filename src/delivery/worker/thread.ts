// Entry of the delivery worker thread: an HttpSender that takes attempts from the scheduler's thread
// (client.ts) and answers with their outcomes, so HTTP, the larger half of the CPU per event, uses a
// second core.
//
// The scheduler hands over more attempts per URL than there are connections; each URL's lane starts
// them here, in order, as connections free up. A connection is then reused at once, without waiting
// for a round trip through the scheduler's thread, which is busy while a backlog is read. An
// attempt's timeout starts when it starts, not while it waits in its lane.

import { parentPort, workerData } from 'node:worker_threads';
import { IdleTrim } from '../../observe/idle-trim.js';
import { HttpSender } from '../http-sender.js';
import { createSigner } from '../signing.js';
import type { AttemptOutcome } from '../types.js';
import {
  closedMessage,
  decodeAttempt,
  forEachChain,
  OutcomeBatch,
  seqOf,
  urlOf,
  type AttemptTuple,
  type ToWorker,
  type WorkerOptions,
} from './protocol.js';

const port = parentPort;
if (!port) throw new Error('worker/thread.js runs as a worker thread only');

const { signingSecrets, ...options } = workerData as WorkerOptions;
const sender = new HttpSender({ ...options, signer: createSigner(signingSecrets) });
const connectionsPerUrl = Math.max(1, options.connectionsPerUrl);

// The worker's own heap (requests, bodies, connections) is given back after a burst, once idle.
new IdleTrim({ release: () => sender.releasePools() }).start();

const outcomes = new OutcomeBatch();
let flushScheduled = false;
const flush = (): void => {
  flushScheduled = false;
  port.postMessage(outcomes.take());
};
const report = (seq: number, outcome: AttemptOutcome): void => {
  outcomes.add(seq, outcome);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
};

/**
 * Attempts that go one after another (see Sender.sendInOrder): the next starts, on the same
 * connection slot, only once the one before was delivered; after any other outcome, or a cancel,
 * the rest are answered `unsent` without a request. Most chains have one attempt.
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
  void sender.send(decodeAttempt(tuple)).then((outcome) => {
    report(seqOf(tuple), outcome);
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
  while (chain.next < chain.tuples.length) report(seqOf(chain.tuples[chain.next++]!), { kind: 'unsent' });
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

function enqueue(tuples: AttemptTuple[]): void {
  const chain: Chain = { tuples, next: 0, cancels: 0 };
  const url = urlOf(tuples[0]!);
  let lane = lanes.get(url);
  if (!lane) {
    lane = { running: 0, waiting: [], cancels: 0 };
    lanes.set(url, lane);
  }
  if (lane.running < connectionsPerUrl) start(lane, chain);
  else lane.waiting.push(chain);
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
      port.postMessage(closedMessage());
    });
    return;
  }
  forEachChain(msg.batch, enqueue);
});
