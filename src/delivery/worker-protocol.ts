// Messages between the dispatcher's thread and the delivery worker (see worker-sender.ts). Attempts
// and outcomes travel in batches, one message per event-loop turn on each side, as tuples and flat
// number arrays: structured cloning of objects (property names per item) was a tenth of the worker's
// CPU.

import type { HttpSenderOptions } from './http-sender.js';
import type { EventName } from '../domain/events.js';
import type { AttemptOutcome, BodyFormat, DeliveryAttempt } from './types.js';

/** HttpSender options that can cross a thread: the signer is rebuilt from its secrets there. */
export type WorkerSenderOptions = Omit<HttpSenderOptions, 'signer' | 'now'> & { readonly signingSecrets: readonly string[] };

/**
 * One attempt: [seq, url, eventId, eventName, occurredAtMs, body, bodyFormat, attempt, chained].
 * `chained` 1: the next tuple of the batch is the next attempt of the same in-order chain (see
 * Sender.sendInOrder), started only once this one is delivered.
 */
export type AttemptTuple = [number, string, string, EventName, number, string, BodyFormat, number, 0 | 1];

export function toTuple(seq: number, a: DeliveryAttempt, chained: 0 | 1): AttemptTuple {
  return [seq, a.url, a.eventId, a.eventName, a.occurredAtMs, a.body, a.bodyFormat, a.attempt, chained];
}

export function fromTuple(t: AttemptTuple): DeliveryAttempt {
  return { url: t[1], eventId: t[2], eventName: t[3], occurredAtMs: t[4], body: t[5], bodyFormat: t[6], attempt: t[7] };
}

export type ToWorker =
  | { readonly type: 'send'; readonly batch: readonly AttemptTuple[] }
  /** Answer attempts not started yet (waiting for a connection or later in a chain; of one URL, or all) as `unsent`. */
  | { readonly type: 'cancel'; readonly url?: string }
  | { readonly type: 'close' };

export type FromWorker =
  | {
      readonly type: 'outcomes';
      /** Delivered attempts, flat: seq, status, durationMs, seq, status, durationMs, ... */
      readonly delivered: readonly number[];
      /** Every other outcome. */
      readonly other: ReadonlyArray<{ readonly seq: number; readonly outcome: AttemptOutcome }>;
    }
  | { readonly type: 'closed' };
