// What the delivery scheduler needs of a sender: in-order chains and taking back queued attempts.
import type { AttemptOutcome, DeliveryAttempt } from './types.js';

/** Called once per attempt of an in-order chain, in order: `index` into the attempts handed over. */
export type OutcomeCallback = (index: number, outcome: AttemptOutcome) => void;

export interface Sender {
  /**
   * Sends deliveries of one order key strictly one after another, each only once the one before it was
   * delivered; after any other outcome (or a cancel) the rest are answered `unsent` without a request.
   * Must never throw once it has accepted the attempts.
   */
  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void;
  /** Answers the attempts of `url` (or all) not started yet as `unsent`. */
  cancelQueued(url?: string): void;
}
