// Contracts of the delivery layer: what one HTTP attempt needs and how its outcome is classified.
// The scheduler (ordering, retries, persistence) depends only on these types.

import type { EventName } from '../domain/events.js';
import type { ErrorCode } from '../errors.js';

export type BodyFormat = 'ucontact' | 'envelope';

export interface DeliveryAttempt {
  readonly url: string;
  readonly eventId: string;
  readonly eventName: EventName;
  /** When the event happened (epoch ms, UTC): drives `ce-time` and the envelope's CreationDateUtc. */
  readonly occurredAtMs: number;
  /** The uContact JSON body as stored in the outbox. */
  readonly body: string;
  readonly bodyFormat: BodyFormat;
  /** 1-based attempt number (for logs only; headers do not depend on it). */
  readonly attempt: number;
  /** Epoch ms before which the request must not start (a rate-limited URL's pace); absent: at once. */
  readonly notBeforeMs?: number;
}

export interface AttemptError {
  readonly code: ErrorCode;
  readonly message: string;
}

export type AttemptOutcome =
  | { readonly kind: 'delivered'; readonly status: number; readonly durationMs: number }
  | {
      readonly kind: 'retry';
      readonly status?: number;
      /** Delay the receiver asked for (Retry-After), milliseconds, already parsed. */
      readonly retryAfterMs?: number;
      readonly error: AttemptError;
      readonly durationMs: number;
    }
  | { readonly kind: 'dead'; readonly status?: number; readonly error: AttemptError; readonly durationMs: number }
  /**
   * The receiver answered 410 Gone: the URL is paused (not the event). The attempt counts, but the
   * delivery stays pending and is never dead-lettered for it; the scheduler probes the URL later.
   */
  | { readonly kind: 'gone'; readonly status: 410; readonly error: AttemptError; readonly durationMs: number }
  /**
   * Not attempted: it waited in the sender for a free connection, or later in a chain, and was let go
   * (its URL became paused or failing, a chain stopped, or the bridge is stopping). Nothing was sent;
   * the delivery is unchanged.
   */
  | { readonly kind: 'unsent' };
