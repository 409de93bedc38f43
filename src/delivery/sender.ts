// The one port the scheduler sends through: attempts go over as in-order chains (a chain of one is a
// single send) and come back one outcome each. Invariant: every attempt handed over is answered exactly
// once, in order within its chain, and a sender never throws once it has accepted the attempts.

import type { AttemptOutcome, DeliveryAttempt } from './types.js';

/** Called once per attempt of an in-order chain, in order: `index` into the attempts handed over. */
export type OutcomeCallback = (index: number, outcome: AttemptOutcome) => void;

export interface Sender {
  /**
   * Sends deliveries of one order key strictly one after another in the given order, each only once
   * the one before it was delivered; after any other outcome (or a cancel) the rest are answered
   * `unsent` without a request. A key's backlog then moves at the pace of the receiver, not of round
   * trips through the scheduler's thread (busy for tens of ms at a time while a backlog is read).
   */
  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void;
  /**
   * Attempts handed over but not started yet (waiting for a free connection, or later in a chain; of
   * `url`, or all) are answered `unsent`.
   */
  cancelQueued(url?: string): void;
}
