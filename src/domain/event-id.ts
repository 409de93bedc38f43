// Deterministic event ids: a UUID (version 5 layout, SHA-1 name-based) over the row change's
// transaction identity, its table and ordinal there, and the id of the rule that produced the event.
// Same row change + same rule => same id on every retry, restart and replay, so receivers can drop
// duplicates by `webhook-id`. No log offset of the rows event is used: MariaDB may write 0 there.

import { hash as oneShotHash } from 'node:crypto';
import type { RowChange } from './row-change.js';

/** Fixed namespace of this project (random, generated once). */
const NAMESPACE = Buffer.from('6f1c5e2a9d4b4c7e8a3f0b1d2c3e4f50', 'hex');

// Scratch buffers, reused: the hashed input (namespace then name) and the UUID text. Building them
// afresh (Buffer.concat, hex string, slices) was most of what an event id cost.
const input = Buffer.alloc(NAMESPACE.length + 1024);
NAMESPACE.copy(input);
const text = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Offsets in the UUID text of each of the 16 bytes (the dashes sit at 8, 13, 18 and 23). */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
text.fill(0x2d); // '-'
/** Views of `input` by length, made once each, so that an id allocates no view. */
const views: Buffer[] = [];
const viewOf = (length: number): Buffer => (views[length] ??= input.subarray(0, length));

export function eventIdFor(change: Pick<RowChange, 'tx' | 'schema' | 'table' | 'ordinal'>, ruleId: string): string {
  const name = `${change.tx.id}:${change.schema}.${change.table}:${change.ordinal}:${ruleId}`;
  const room = input.length - NAMESPACE.length;
  // A UTF-16 unit is at most 3 bytes of UTF-8: the usual short name fits without measuring it first.
  const data =
    name.length * 3 <= room
      ? viewOf(NAMESPACE.length + input.write(name, NAMESPACE.length, 'utf8'))
      : Buffer.concat([NAMESPACE, Buffer.from(name, 'utf8')]);
  // One-shot hashing: a Hash object per event was a few percent of the CPU at catch-up.
  const hash = oneShotHash('sha1', data, 'buffer');
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  for (let i = 0; i < 16; i++) {
    const b = hash[i]!;
    text[AT[i]!] = HEX[b >> 4]!;
    text[AT[i]! + 1] = HEX[b & 15]!;
  }
  return text.toString('latin1', 0, 36);
}
