// Every message between the scheduler's thread (client.ts) and the delivery worker thread (thread.ts),
// encoded and decoded here only: nothing else indexes a tuple or a flat array. Attempts and outcomes
// cross in batches, one message per event-loop turn each way, as tuples and flat number arrays because
// structured cloning of objects (a property name per item) costs the worker CPU (bench/RESULTS.md).

import type { EventName } from '../../domain/events.js';
import type { ReceiverEntry } from '../../config/receivers.js';
import type { HttpSenderOptions } from '../http-sender.js';
import type { AttemptOutcome, BodyFormat, DeliveryAttempt } from '../types.js';

/**
 * HttpSender options that can cross a thread (the worker's workerData): the signer is rebuilt from its secrets there.
 */
export type WorkerOptions = Omit<HttpSenderOptions, 'signer' | 'now' | 'profileFor'> & {
  readonly signingSecrets: readonly string[];
  /** The receivers entries (resolved, plain data): each URL's own secret, headers, timeouts, connections. */
  readonly receivers?: readonly ReceiverEntry[];
  /** Requests at once, all URLs together (each URL also at most its own concurrency): lanes.ts. */
  readonly concurrencyTotal: number;
};

/** One attempt on the wire: its fields sit at the AT_* indexes below. */
export type AttemptTuple = readonly [
  number,
  string,
  string,
  EventName,
  number,
  string,
  BodyFormat,
  number,
  0 | 1,
  number,
];

const AT_SEQ = 0;
const AT_URL = 1;
const AT_EVENT_ID = 2;
const AT_EVENT_NAME = 3;
const AT_OCCURRED_AT_MS = 4;
const AT_BODY = 5;
const AT_BODY_FORMAT = 6;
const AT_ATTEMPT = 7;
/** 1: the next tuple of the batch is the next attempt of the same in-order chain. */
const AT_CHAINED = 8;
/** Epoch ms before which the attempt must not start; 0: at once. */
const AT_NOT_BEFORE_MS = 9;

/** `seq` names the attempt in its outcome; `chainedToNext`: the next attempt encoded belongs to the same chain. */
export function encodeAttempt(seq: number, a: DeliveryAttempt, chainedToNext: boolean): AttemptTuple {
  return [
    seq,
    a.url,
    a.eventId,
    a.eventName,
    a.occurredAtMs,
    a.body,
    a.bodyFormat,
    a.attempt,
    chainedToNext ? 1 : 0,
    a.notBeforeMs ?? 0,
  ];
}

export function decodeAttempt(t: AttemptTuple): DeliveryAttempt {
  return {
    url: t[AT_URL],
    eventId: t[AT_EVENT_ID],
    eventName: t[AT_EVENT_NAME],
    occurredAtMs: t[AT_OCCURRED_AT_MS],
    body: t[AT_BODY],
    bodyFormat: t[AT_BODY_FORMAT],
    attempt: t[AT_ATTEMPT],
  };
}

export function seqOf(t: AttemptTuple): number {
  return t[AT_SEQ];
}

/** When the attempt may start (epoch ms; 0: at once); not in decodeAttempt: the worker's lane waits for it. */
export function notBeforeOf(t: AttemptTuple): number {
  return t[AT_NOT_BEFORE_MS];
}

export function urlOf(t: AttemptTuple): string {
  return t[AT_URL];
}

/** Calls `onChain` once per in-order chain of the batch, in batch order. */
export function forEachChain(batch: readonly AttemptTuple[], onChain: (chain: AttemptTuple[]) => void): void {
  for (let i = 0; i < batch.length;) {
    const chain = [batch[i]!];
    while (batch[i++]![AT_CHAINED] === 1 && i < batch.length) chain.push(batch[i]!);
    onChain(chain);
  }
}

/** Scheduler's thread -> worker. */
export type ToWorker =
  | { readonly type: 'send'; readonly batch: readonly AttemptTuple[] }
  /** Answer attempts not started yet (waiting for a connection or later in a chain; of one URL, or all) as `unsent`. */
  | { readonly type: 'cancel'; readonly url?: string }
  | { readonly type: 'close' };

export function sendMessage(batch: readonly AttemptTuple[]): ToWorker {
  return { type: 'send', batch };
}

export function cancelMessage(url: string | undefined): ToWorker {
  return url === undefined ? { type: 'cancel' } : { type: 'cancel', url };
}

export function closeMessage(): ToWorker {
  return { type: 'close' };
}

/** Worker -> scheduler's thread. */
export type FromWorker = OutcomesMessage | { readonly type: 'closed' };

export interface OutcomesMessage {
  readonly type: 'outcomes';
  /** Delivered attempts, flat: seq, status, durationMs, seq, status, durationMs, ... */
  readonly delivered: readonly number[];
  /** Every other outcome. */
  readonly other: ReadonlyArray<{ readonly seq: number; readonly outcome: AttemptOutcome }>;
}

export function closedMessage(): FromWorker {
  return { type: 'closed' };
}

/** Outcomes gathered in the worker until they go over in one message. */
export class OutcomeBatch {
  private delivered: number[] = [];
  private other: Array<{ seq: number; outcome: AttemptOutcome }> = [];

  add(seq: number, outcome: AttemptOutcome): void {
    if (outcome.kind === 'delivered') this.delivered.push(seq, outcome.status, outcome.durationMs);
    else this.other.push({ seq, outcome });
  }

  /** The message with every outcome added since the last take(). */
  take(): OutcomesMessage {
    const message: OutcomesMessage = { type: 'outcomes', delivered: this.delivered, other: this.other };
    this.delivered = [];
    this.other = [];
    return message;
  }
}

/** Calls `settle` once per outcome of the message. */
export function decodeOutcomes(msg: OutcomesMessage, settle: (seq: number, outcome: AttemptOutcome) => void): void {
  const d = msg.delivered;
  for (let i = 0; i < d.length; i += 3) settle(d[i]!, { kind: 'delivered', status: d[i + 1]!, durationMs: d[i + 2]! });
  for (const { seq, outcome } of msg.other) settle(seq, outcome);
}
