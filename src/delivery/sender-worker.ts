// Entry of the delivery worker thread: an HttpSender that takes attempts from the dispatcher's thread
// and answers with their outcomes. HTTP is the larger half of the per-event CPU cost, so running it
// here lets the bridge use a second core (see worker-sender.ts for the other side).

import { parentPort, workerData } from 'node:worker_threads';
import { HttpSender } from './http-sender.js';
import { createSigner } from './signing.js';
import type { AttemptOutcome } from './types.js';
import { fromTuple, type FromWorker, type ToWorker, type WorkerSenderOptions } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('sender-worker.js runs as a worker thread only');

const { signingSecrets, ...options } = workerData as WorkerSenderOptions;
const sender = new HttpSender({ ...options, signer: createSigner(signingSecrets) });

let delivered: number[] = [];
let other: Array<{ seq: number; outcome: AttemptOutcome }> = [];
let flushScheduled = false;
const flush = (): void => {
  flushScheduled = false;
  port.postMessage({ type: 'outcomes', delivered, other } satisfies FromWorker);
  delivered = [];
  other = [];
};

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'close') {
    void sender.close().then(() => port.postMessage({ type: 'closed' } satisfies FromWorker));
    return;
  }
  for (const tuple of msg.batch) {
    const seq = tuple[0];
    // send() never throws: every attempt gets an outcome.
    void sender.send(fromTuple(tuple)).then((outcome) => {
      if (outcome.kind === 'delivered') delivered.push(seq, outcome.status, outcome.durationMs);
      else other.push({ seq, outcome });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
  }
});
