// Entry of the delivery worker thread: an HttpSender that takes attempts from the scheduler's thread
// (client.ts) and answers with their outcomes, so HTTP, the larger half of the CPU per event, uses a
// second core.
//
// The scheduler hands over more attempts per URL than there are connections; lanes.ts starts
// them here, in order, as connections free up. A connection is then reused at once, without waiting
// for a round trip through the scheduler's thread, which is busy while a backlog is read. An
// attempt's timeout starts when it starts, not while it waits in its lane.

import { parentPort, workerData } from 'node:worker_threads';
import { IdleTrim } from '../../observe/idle-trim.js';
import { HttpSender, type SendProfile } from '../http-sender.js';
import { createSigner, type Signer } from '../signing.js';
import { urlSettingsResolver } from '../url-settings.js';
import type { AttemptOutcome } from '../types.js';
import { Lanes } from './lanes.js';
import {
  closedMessage,
  decodeAttempt,
  forEachChain,
  OutcomeBatch,
  type ToWorker,
  type WorkerOptions,
} from './protocol.js';

const port = parentPort;
if (!port) throw new Error('worker/thread.js runs as a worker thread only');

const { signingSecrets, receivers = [], concurrencyTotal, ...options } = workerData as WorkerOptions;
const globalSigner = createSigner(signingSecrets);
/** Each URL's settings from its receivers entry, resolved once per URL (the defaults are the options). */
const settingsFor = urlSettingsResolver(receivers, {
  signingSecrets,
  timeoutMs: options.requestTimeoutMs,
  connectTimeoutMs: options.connectTimeoutMs,
  concurrency: options.connectionsPerUrl,
  // The body format travels with each attempt; the worker does not choose it.
  bodyFormat: 'ucontact',
  envelopeUrlPrefix: [],
  maxAttempts: 1,
  maxAgeMs: 1,
});
/** One signer per secret list: URLs without their own secret share the global one. */
const signers = new Map<readonly string[], Signer | undefined>([[signingSecrets, globalSigner]]);
function signerOf(secrets: readonly string[]): Signer | undefined {
  if (!signers.has(secrets)) signers.set(secrets, createSigner(secrets));
  return signers.get(secrets);
}
const profileFor = (url: string): SendProfile => {
  const s = settingsFor(url);
  return {
    signer: signerOf(s.signingSecrets),
    headers: Object.keys(s.headers).length > 0 ? s.headers : undefined,
    requestTimeoutMs: s.timeoutMs,
    connectTimeoutMs: s.connectTimeoutMs,
    connections: s.concurrency,
  };
};
const sender = new HttpSender({ ...options, signer: globalSigner, profileFor });

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

const lanes = new Lanes({
  send: (tuple) => sender.send(decodeAttempt(tuple)),
  report,
  settingsFor,
  maxRunning: concurrencyTotal,
});

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    lanes.cancel(msg.url);
    return;
  }
  if (msg.type === 'close') {
    lanes.cancel(undefined);
    void sender.close().then(() => {
      if (flushScheduled) flush();
      port.postMessage(closedMessage());
    });
    return;
  }
  forEachChain(msg.batch, (tuples) => lanes.enqueue(tuples));
});
