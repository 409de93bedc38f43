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
import { HttpSender, type SendProfile } from '../http-sender.js';
import { createSigner, type Signer } from '../signing.js';
import { StartWindow } from '../rate-limit.js';
import { urlSettingsResolver } from '../url-settings.js';
import type { AttemptOutcome } from '../types.js';
import {
  closedMessage,
  decodeAttempt,
  forEachChain,
  notBeforeOf,
  OutcomeBatch,
  seqOf,
  urlOf,
  type AttemptTuple,
  type ToWorker,
  type WorkerOptions,
} from './protocol.js';

const port = parentPort;
if (!port) throw new Error('worker/thread.js runs as a worker thread only');

const { signingSecrets, receivers = [], ...options } = workerData as WorkerOptions;
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

/** One URL's chains: at most `connections` (its concurrency) running, the rest waiting in order. */
interface Lane {
  readonly connections: number;
  running: number;
  waiting: Chain[];
  /** Cancels so far (a counter, not a set of running chains: no allocation per chain). */
  cancels: number;
  /** Running chains whose next attempt waits for its not-before time (a rate-limited URL's pace). */
  paced: Map<Chain, NodeJS.Timeout> | undefined;
  /** A rate-limited URL's recent starts: a catch-up after lateness never bursts past the limit. */
  readonly window: StartWindow | undefined;
}
const lanes = new Map<string, Lane>();

function start(lane: Lane, chain: Chain): void {
  lane.running++;
  chain.cancels = lane.cancels;
  step(lane, chain);
}

/**
 * The chain's next attempt: at once, or at its not-before time and no sooner than the lane's start
 * window allows (the lane's timers keep a rate's pace; checked again when the timer fires).
 */
function step(lane: Lane, chain: Chain): void {
  const now = Date.now();
  const waitMs = Math.max(notBeforeOf(chain.tuples[chain.next]!), lane.window?.earliest() ?? 0) - now;
  if (waitMs <= 0) {
    lane.window?.record(now);
    send(lane, chain);
    return;
  }
  lane.paced ??= new Map();
  lane.paced.set(
    chain,
    setTimeout(() => {
      lane.paced!.delete(chain);
      if (chain.cancels !== lane.cancels) finish(lane, chain);
      else step(lane, chain);
    }, waitMs),
  );
}

function send(lane: Lane, chain: Chain): void {
  if (chain.cancels !== lane.cancels) {
    // Cancelled while it waited for its time: nothing of it is sent.
    finish(lane, chain);
    return;
  }
  const tuple = chain.tuples[chain.next++]!;
  // send() never throws: every attempt gets an outcome.
  void sender.send(decodeAttempt(tuple)).then((outcome) => {
    report(seqOf(tuple), outcome);
    if (outcome.kind === 'delivered' && chain.cancels === lane.cancels && chain.next < chain.tuples.length) {
      step(lane, chain);
      return;
    }
    finish(lane, chain);
  });
}

/** The rest of the chain is answered unsent and its connection slot goes to the next chain. */
function finish(lane: Lane, chain: Chain): void {
  unsent(chain);
  lane.running--;
  const next = lane.waiting.shift();
  if (next) start(lane, next);
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
    // One waiting for its time has nothing in flight: answered now (a stop does not wait for its time).
    if (lane.paced) {
      const paced = [...lane.paced];
      lane.paced.clear();
      for (const [chain, timer] of paced) {
        clearTimeout(timer);
        finish(lane, chain);
      }
    }
  }
}

function enqueue(tuples: AttemptTuple[]): void {
  const chain: Chain = { tuples, next: 0, cancels: 0 };
  const url = urlOf(tuples[0]!);
  let lane = lanes.get(url);
  if (!lane) {
    const { concurrency, rateLimitPerSecond } = settingsFor(url);
    lane = {
      connections: Math.max(1, concurrency),
      running: 0,
      waiting: [],
      cancels: 0,
      paced: undefined,
      window: rateLimitPerSecond === undefined ? undefined : new StartWindow(rateLimitPerSecond),
    };
    lanes.set(url, lane);
  }
  if (lane.running < lane.connections) start(lane, chain);
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
