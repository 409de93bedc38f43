// Which replayed (event, URL) pairs get a new delivery: only those the outbox never delivered and does
// not hold pending, looked up by the event's id; with --force, every one. The selection is pure; the
// apply step runs where the state store is written (the CLI holding the lock, or the running bridge
// through POST /api/replay), lookup and insert in one synchronous step so nothing interleaves.

import {
  DeliveryStatus,
  type Delivery,
  type EnqueuedEvent,
  type ReplayInsert,
  type StateStore,
} from '../outbox/state-store.js';

/**
 * A regenerated event with the URLs it is replayed to. `span`: the positions of `source.file` between
 * which its first run may have recorded its transaction's start (a run that began mid-file records
 * its own start position, not the previous commit).
 */
export interface ReplayEvent extends EnqueuedEvent {
  readonly span: { readonly from: number; readonly to: number };
}

/** `already`: what the outbox holds for that URL, and why it is skipped. */
export type SkipReason = 'delivered' | 'pending';

export interface ReplayDecision {
  readonly url: string;
  readonly enqueue: boolean;
  /** Why a pair is skipped, or what an enqueued one replaces (`dead`, `cancelled`: never delivered). */
  readonly reason: SkipReason | 'dead' | 'cancelled' | 'new' | 'forced';
}

/** Decides each URL of one event from the statuses of its stored deliveries (any URL). */
export function selectForReplay(
  urls: readonly string[],
  stored: ReadonlyArray<{ url: string; status: number }>,
  force: boolean,
): ReplayDecision[] {
  return urls.map((url) => {
    const statuses = new Set(stored.filter((d) => d.url === url).map((d) => d.status));
    if (force) return { url, enqueue: true, reason: 'forced' };
    if (statuses.has(DeliveryStatus.delivered)) return { url, enqueue: false, reason: 'delivered' };
    if (statuses.has(DeliveryStatus.pending) || statuses.has(DeliveryStatus.staged))
      return { url, enqueue: false, reason: 'pending' };
    if (statuses.has(DeliveryStatus.dead)) return { url, enqueue: true, reason: 'dead' };
    if (statuses.has(DeliveryStatus.cancelled)) return { url, enqueue: true, reason: 'cancelled' };
    return { url, enqueue: true, reason: 'new' };
  });
}

export interface AppliedReplay {
  /** Per event, in the order given. */
  readonly decisions: ReplayDecision[][];
  /** Deliveries created (none on a dry run). */
  readonly created: Delivery[];
}

/** What the lookup and insert need of the store (a read-only store suffices for a dry run). */
export type ReplayStore = Pick<StateStore, 'storedEvent' | 'insertReplayed'>;

/** Looks each event up and, unless `dryRun`, inserts the chosen deliveries in one transaction. */
export function applyReplay(
  store: ReplayStore,
  events: readonly ReplayEvent[],
  opts: { force: boolean; dryRun: boolean },
): AppliedReplay {
  const decisions: ReplayDecision[][] = [];
  const inserts: ReplayInsert[] = [];
  for (const ev of events) {
    const stored = store.storedEvent(ev.id, ev.source.file, ev.span.from, ev.span.to);
    const chosen = selectForReplay(ev.urls, stored?.deliveries ?? [], opts.force);
    decisions.push(chosen);
    const urls = chosen.filter((d) => d.enqueue).map((d) => d.url);
    if (urls.length > 0) inserts.push({ event: ev, seq: stored?.seq, urls });
  }
  const created = opts.dryRun || inserts.length === 0 ? [] : store.insertReplayed(inserts);
  return { decisions, created };
}
