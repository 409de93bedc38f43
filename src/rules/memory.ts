// Values remembered from earlier rows of the stream (the caller number of an ENTERQUEUE row by callid),
// bounded as an LRU. A miss is not an answer: the caller may fall back to a read-only SELECT, because
// the remembered row can predate the bridge's start.

import type { MemoryDef } from './schema.js';

export class RememberedValues {
  readonly def: MemoryDef;
  private readonly values = new Map<string, unknown>();

  constructor(def: MemoryDef) {
    this.def = def;
  }

  get size(): number {
    return this.values.size;
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): unknown {
    const v = this.values.get(key);
    if (v !== undefined) {
      // Refresh recency: Map iteration order is insertion order.
      this.values.delete(key);
      this.values.set(key, v);
    }
    return v;
  }

  set(key: string, value: unknown): void {
    this.values.delete(key);
    this.values.set(key, value ?? null);
    if (this.values.size > this.def.maxEntries) {
      const oldest = this.values.keys().next();
      if (!oldest.done) this.values.delete(oldest.value);
    }
  }
}
