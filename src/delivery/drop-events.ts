// Drops the deliveries of some events from a URL's in-memory key queues (their registration was
// removed). Invariant: a chain in flight (the first `sent` of a key) is never touched: those finish,
// and their ids are returned so that a failure of one cancels it instead of retrying it. A dropped
// head takes its retry timer with it: the deliveries behind it do not wait for its retry time.

import type { Delivery } from '../outbox/outbox.js';
import type { SafeTimer } from '../safe-timer.js';

export interface DroppableKey {
  readonly items: Delivery[];
  sent: number;
  timer: SafeTimer | undefined;
}

/**
 * Removes the deliveries of `events` not in flight; drops keys left empty. `ready`: keys whose head
 * waited for its retry time and was dropped: startable now (their timer is cleared).
 */
export function dropEvents(keys: Map<string, DroppableKey>, events: readonly string[]): { dropped: number; inFlight: number[]; ready: string[] } {
  let dropped = 0;
  const inFlight: number[] = [];
  const ready: string[] = [];
  for (const [key, kq] of keys) {
    for (const d of kq.items.slice(0, kq.sent)) if (events.includes(d.eventName)) inFlight.push(d.id);
    const headDropped = kq.sent === 0 && kq.items.length > 0 && events.includes(kq.items[0]!.eventName);
    const kept = kq.items.filter((d, i) => i < kq.sent || !events.includes(d.eventName));
    dropped += kq.items.length - kept.length;
    kq.items.splice(0, kq.items.length, ...kept);
    if (kept.length === 0 && kq.sent === 0) {
      kq.timer?.clear();
      keys.delete(key);
    } else if (headDropped && kq.timer) {
      // A key without a timer is in the ready queue already.
      kq.timer.clear();
      kq.timer = undefined;
      ready.push(key);
    }
  }
  return { dropped, inFlight, ready };
}
