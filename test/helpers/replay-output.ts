// What `replay --json` prints: one line per (event, URL) decision, then a summary line. Shared by the
// replay integration tests.

import assert from 'node:assert/strict';
import type { CliResult } from './bridge-process.js';

export interface ReplayLine {
  eventId: string;
  event: string;
  url: string;
  action: 'enqueue' | 'skip';
  reason: string;
}
export interface ReplaySummary {
  from: string;
  events: number;
  enqueue: number;
  via: string;
  skipped: { delivered: number; pending: number };
}

/** The decision lines and the summary of a replay that exited 0. */
export function parseReplay(r: CliResult): { lines: ReplayLine[]; summary: ReplaySummary } {
  assert.equal(r.code, 0, `replay failed: ${r.stderr}`);
  const all = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ReplayLine | { summary: ReplaySummary });
  const last = all.pop() as { summary: ReplaySummary };
  return { lines: all as ReplayLine[], summary: last.summary };
}
