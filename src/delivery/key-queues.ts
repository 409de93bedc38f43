// The buffered deliveries of one URL, in per-key queues: a key's deliveries go strictly one after
// another in commit order, different keys in parallel. Invariants: a key is in the ready FIFO at most
// once while startable; its head is the only delivery that may wait for a retry time; a chain (the
// first `sent` of a key) is in the sender's hands and is never removed from under it.

import type { Delivery } from '../outbox/state-store.js';
import type { SafeTimer } from '../safe-timer.js';

export interface KeyQueue {
  readonly key: string;
  readonly items: Delivery[];
  /** Deliveries from the head handed to the sender and not answered yet (a chain). */
  sent: number;
  /** The head's retry time. */
  timer: SafeTimer | undefined;
}

/** The key's head is in flight (with its chain) or waits for its retry time: not startable now. */
export function isBusy(kq: KeyQueue): boolean {
  return kq.sent > 0 || kq.timer !== undefined;
}

/** FIFO of keys with O(1) shift (Array#shift copies large arrays). */
class KeyFifo {
  private items: Array<string | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  /** Removes every occurrence of `key` (probe bookkeeping only; linear). */
  remove(key: string): void {
    this.items = this.items.slice(this.head).filter((k) => k !== key);
    this.head = 0;
  }

  /** Keeps only the keys `keep` accepts (after deliveries went back to the store; linear). */
  retain(keep: (key: string) => boolean): void {
    this.items = this.items.slice(this.head).filter((k) => k !== undefined && keep(k));
    this.head = 0;
  }

  find(pred: (key: string) => boolean): string | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const k = this.items[i];
      if (k !== undefined && pred(k)) return k;
    }
    return undefined;
  }
}

export class KeyQueues {
  readonly keys = new Map<string, KeyQueue>();
  /** Keys whose head can be attempted now, FIFO. */
  private readonly ready = new KeyFifo();

  /** Keys waiting in the ready FIFO (the flow window pages more in while few are). */
  get readyCount(): number {
    return this.ready.length;
  }

  /** Buffers a delivery behind the others of its key. */
  add(d: Delivery): void {
    const kq = this.keys.get(d.orderKey);
    if (!kq) {
      // A literal of one: `[]` then push() reserves room for 17 (~150 bytes per key, with many keys
      // most of the buffer's heap: 55,000 keys of 200 URLs held 8 MB of empty slots, bench/RESULTS.md).
      this.keys.set(d.orderKey, { key: d.orderKey, items: [d], sent: 0, timer: undefined });
      this.ready.push(d.orderKey);
      return;
    }
    kq.items.push(d);
    if (!isBusy(kq) && kq.items.length === 1) this.ready.push(d.orderKey);
  }

  /** The next key whose head can be started, taken off the ready FIFO. */
  nextReady(): KeyQueue | undefined {
    for (let key = this.ready.shift(); key !== undefined; key = this.ready.shift()) {
      const kq = this.keys.get(key);
      if (kq && !isBusy(kq) && kq.items.length > 0) return kq;
    }
    return undefined;
  }

  /** How many deliveries from the head (due at `nowMs`, at most `max`) go out as one chain. */
  chainLength(kq: KeyQueue, max: number, nowMs: number): number {
    const limit = Math.min(kq.items.length, max);
    let n = 1;
    while (n < limit && kq.items[n]!.nextAttemptAtMs <= nowMs) n++;
    return n;
  }

  /**
   * The key a probe goes out on: `probeKey` if it still has deliveries, else the first startable one,
   * else (`anyKey`) the first key at all. Taken off the ready FIFO.
   */
  probeQueue(probeKey: string | undefined, anyKey: boolean): KeyQueue | undefined {
    let kq = probeKey === undefined ? undefined : this.keys.get(probeKey);
    if (!kq) {
      const key = this.ready.find((k) => {
        const q = this.keys.get(k);
        return q !== undefined && !isBusy(q);
      });
      kq = key !== undefined ? this.keys.get(key) : anyKey ? this.keys.values().next().value : undefined;
    }
    if (kq && !isBusy(kq) && kq.items.length > 0) this.ready.remove(kq.key);
    return kq;
  }

  /**
   * A delivery is finished (delivered, dead or cancelled): it leaves its key. It is the head, except
   * after a bookkeeping failure kept an earlier one of its chain in line. False if it was gone already.
   */
  finish(kq: KeyQueue, d: Delivery): boolean {
    const i = kq.items[0] === d ? 0 : kq.items.indexOf(d);
    if (i < 0) return false;
    if (i === 0) kq.items.shift();
    else kq.items.splice(i, 1);
    return true;
  }

  /** One delivery of the key's chain is answered; after the last the key takes its turn again. */
  release(kq: KeyQueue): void {
    kq.sent--;
    if (isBusy(kq)) return;
    if (kq.items.length > 0) this.ready.push(kq.key);
    else if (this.keys.get(kq.key) === kq) this.keys.delete(kq.key);
  }

  /** The head's retry time has come: true when the key is startable again (not answering a chain). */
  retryDue(kq: KeyQueue): boolean {
    kq.timer = undefined;
    if (kq.sent > 0) return false;
    this.ready.push(kq.key);
    return true;
  }

  /** Every buffered delivery is due at `nowMs` at the latest (a URL resumed by the operator): no key waits on. */
  dueBy(nowMs: number): void {
    for (const kq of this.keys.values()) {
      for (const d of kq.items) if (d.nextAttemptAtMs > nowMs) d.nextAttemptAtMs = nowMs;
      if (kq.timer) {
        kq.timer.clear();
        this.retryDue(kq);
      }
    }
  }

  /** Every buffered delivery (to move age budgets on after a pause). */
  *deliveries(): IterableIterator<Delivery> {
    for (const kq of this.keys.values()) yield* kq.items;
  }

  clearTimers(): void {
    for (const kq of this.keys.values()) kq.timer?.clear();
  }

  /** Ids of every buffered delivery, in flight or not (a rewound page skips them). */
  heldIds(): Set<number> {
    const ids = new Set<number>();
    for (const kq of this.keys.values()) for (const d of kq.items) ids.add(d.id);
    return ids;
  }

  /**
   * Drops the buffered deliveries of `events` (their registration was removed; all of them when
   * undefined: the backlog is discarded) except those of a chain in flight, whose ids are returned: a
   * failure of one cancels it instead of retrying it. A dropped head takes its retry timer with it: the
   * deliveries behind it do not wait for its retry time.
   */
  drop(events: readonly string[] | undefined): { dropped: number; removed: Delivery[]; inFlight: number[] } {
    const matches = (d: Delivery): boolean => events === undefined || events.includes(d.eventName);
    let dropped = 0;
    const removed: Delivery[] = [];
    const inFlight: number[] = [];
    for (const [key, kq] of this.keys) {
      for (const d of kq.items.slice(0, kq.sent)) if (matches(d)) inFlight.push(d.id);
      const headDropped = kq.sent === 0 && kq.items.length > 0 && matches(kq.items[0]!);
      const kept: Delivery[] = [];
      kq.items.forEach((d, i) => (i < kq.sent || !matches(d) ? kept : removed).push(d));
      dropped += kq.items.length - kept.length;
      kq.items.splice(0, kq.items.length, ...kept);
      if (kept.length === 0 && kq.sent === 0) {
        kq.timer?.clear();
        this.keys.delete(key);
      } else if (headDropped && kq.timer) {
        // A key without a timer is in the ready FIFO already.
        kq.timer.clear();
        kq.timer = undefined;
        this.ready.push(key);
      }
    }
    return { dropped, removed, inFlight };
  }

  /**
   * Takes back the newest buffered deliveries, at least `bytes` of them by `costOf` if it can, so that
   * those left are every one up to some id (the flow window pages the rest in again from the store).
   * Those in flight and a head waiting for its retry time stay, and so does every one older than them.
   */
  shed(bytes: number, costOf: (d: Delivery) => number): Delivery[] {
    let pinned = 0;
    const loose: Delivery[] = [];
    for (const kq of this.keys.values()) {
      const fixed = Math.max(kq.sent, kq.timer ? 1 : 0);
      for (let i = 0; i < kq.items.length; i++) {
        const d = kq.items[i]!;
        if (i < fixed) pinned = Math.max(pinned, d.id);
        else loose.push(d);
      }
    }
    loose.sort((a, b) => b.id - a.id);
    let freed = 0;
    let n = 0;
    while (n < loose.length && freed < bytes && loose[n]!.id > pinned) freed += costOf(loose[n++]!);
    if (n === 0) return [];
    const keepUpTo = loose[n - 1]!.id - 1;
    for (const [key, kq] of this.keys) {
      // Not a tail by position: a requeued (retried) delivery sits behind newer ones of its key. Those
      // in flight or waiting for their retry time have ids <= pinned < keepUpTo + 1: they stay.
      let at = 0;
      for (const d of kq.items) if (d.id <= keepUpTo) kq.items[at++] = d;
      if (at === kq.items.length) continue;
      kq.items.length = at;
      if (at === 0 && !isBusy(kq)) this.keys.delete(key);
    }
    this.ready.retain((k) => this.keys.has(k));
    return loose.slice(0, n);
  }
}
