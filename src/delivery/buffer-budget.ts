// The one budget of deliveries buffered in memory, in bytes, for all URLs together, shared fairly: a
// URL may hold at most max(its fair share, what the others leave unused), where the fair share is the
// budget split evenly among the URLs that have deliveries to send, and "unused" leaves every URL that
// waits on the store (rows it could not buffer) room up to its fair share. A URL below its fair share
// when the budget is spent gets room from those above theirs (shed: their newest buffered deliveries go
// back to the store, which still holds them). So one slow URL cannot take the others' room.

/** One URL's part of the budget. */
export interface BudgetAccount {
  /** Bytes of its buffered deliveries (deliveryCost each). */
  bytes: number;
  /** Has deliveries to send (pending, neither failing nor paused): counts in the fair share. */
  active: boolean;
  /** Active, and rows of it wait in the store for room: others leave it room up to its fair share. */
  starving: boolean;
}

export class BufferBudget {
  private used = 0;
  private activeCount = 0;
  private readonly starvingSet = new Set<BudgetAccount>();

  constructor(readonly maxBytes: number) {}

  /** Bytes buffered, all URLs together. */
  get total(): number {
    return this.used;
  }

  /** The budget split evenly among the active URLs (the whole of it for one). */
  get fairShare(): number {
    return this.maxBytes / Math.max(1, this.activeCount);
  }

  add(a: BudgetAccount, bytes: number): void {
    a.bytes += bytes;
    this.used += bytes;
  }

  remove(a: BudgetAccount, bytes: number): void {
    a.bytes -= bytes;
    this.used -= bytes;
  }

  /** Records whether `a` is active and starving (see BudgetAccount). */
  set(a: BudgetAccount, active: boolean, starving: boolean): void {
    if (active !== a.active) this.activeCount += active ? 1 : -1;
    a.active = active;
    const s = active && starving;
    if (s !== a.starving) {
      if (s) this.starvingSet.add(a);
      else this.starvingSet.delete(a);
    }
    a.starving = s;
  }

  /** Most bytes `a` may hold: max(its fair share, the budget less what the others hold or are owed). */
  limitOf(a: BudgetAccount): number {
    const fair = this.fairShare;
    let owed = 0;
    for (const o of this.starvingSet) if (o !== a && o.bytes < fair) owed += fair - o.bytes;
    return Math.max(fair, this.maxBytes - (this.used - a.bytes) - owed);
  }

  /**
   * Bytes `a` may add now without going over the budget. Can be less than limitOf(a) - a.bytes while
   * others hold more than their share: shortfall() says how much they must shed first.
   */
  roomOf(a: BudgetAccount): number {
    return Math.max(0, Math.min(this.limitOf(a) - a.bytes, this.maxBytes - this.used));
  }

  /** Bytes others must shed before `a` can fill its fair share (within `want`). */
  shortfall(a: BudgetAccount, want: number): number {
    const toFair = Math.min(want, this.fairShare - a.bytes);
    return Math.max(0, toFair - (this.maxBytes - this.used));
  }

  /** What `a` holds above its fair share (all of it once inactive), which it sheds first. */
  excessOf(a: BudgetAccount): number {
    return Math.max(0, a.bytes - (a.active ? this.fairShare : 0));
  }
}
