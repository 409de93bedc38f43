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

/** One URL's attempts: at most connectionsPerUrl running, the rest waiting in order. */
interface Lane {
  running: number;
  waiting: AttemptTuple[];
}
const lanes = new Map<string, Lane>();

function start(lane: Lane, tuple: AttemptTuple): void {
  lane.running++;
  // send() never throws: every attempt gets an outcome.
  void sender.send(fromTuple(tuple)).then((outcome) => {
    report(tuple[0], outcome);
    lane.running--;
    const next = lane.waiting.shift();
    if (next) start(lane, next);
  });
}

function cancel(url: string | undefined): void {
  for (const [laneUrl, lane] of lanes) {
    if (url !== undefined && laneUrl !== url) continue;
    for (const tuple of lane.waiting) report(tuple[0], { kind: 'unsent' });
    lane.waiting = [];
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
  for (const tuple of msg.batch) {
    let lane = lanes.get(tuple[1]);
    if (!lane) {
      lane = { running: 0, waiting: [] };
      lanes.set(tuple[1], lane);
    }
    if (lane.running < connectionsPerUrl) start(lane, tuple);
    else lane.waiting.push(tuple);
  }
});
