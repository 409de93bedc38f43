// What `replay` prints. Results on stdout: one line per (event, URL), as JSON lines with --json or a
// table, then a summary. Progress on stderr: a bar with rate and ETA redrawn in place on a terminal,
// a plain line every few seconds otherwise. Pure: the command decides when to print.

import { formatPosition, type BinlogPosition } from '../domain/row-change.js';
import { safeUrl } from '../safe-url.js';
import type { ReplayDecision, ReplayEvent } from './replay-dedup.js';

export interface ReplaySummary {
  readonly from: string;
  readonly to: string;
  readonly dryRun: boolean;
  /** Where the new deliveries went: the running bridge, the store (offline), or nowhere (dry run). */
  readonly via: 'bridge' | 'store' | 'none';
  readonly events: number;
  readonly enqueue: number;
  readonly skipped: { readonly delivered: number; readonly pending: number };
}

const COLUMNS = ['ACTION', 'EVENT ID', 'EVENT', 'OCCURRED (UTC)', 'SOURCE', 'URL'] as const;

export function tableHeader(): string {
  return `${row(COLUMNS)}\n`;
}

function row(cells: readonly string[]): string {
  const widths = [14, 36, 22, 24, 26];
  return cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c)).join(' ');
}

function action(d: ReplayDecision, dryRun: boolean): string {
  if (!d.enqueue) return `skip:${d.reason}`;
  return dryRun ? 'enqueue' : 'enqueued';
}

/** One (event, URL) pair: a JSON line or a table row. */
export function decisionLine(ev: ReplayEvent, d: ReplayDecision, opts: { json: boolean; dryRun: boolean }): string {
  if (opts.json) {
    return `${JSON.stringify({
      eventId: ev.id,
      event: ev.name,
      url: safeUrl(d.url),
      action: d.enqueue ? 'enqueue' : 'skip',
      reason: d.reason,
      occurredAt: new Date(ev.occurredAtMs).toISOString(),
      source: formatPosition(ev.source),
    })}\n`;
  }
  return `${row([
    action(d, opts.dryRun),
    ev.id,
    ev.name,
    new Date(ev.occurredAtMs).toISOString(),
    formatPosition(ev.source),
    safeUrl(d.url),
  ])}\n`;
}

export function summaryLine(s: ReplaySummary, json: boolean): string {
  if (json) return `${JSON.stringify({ summary: s })}\n`;
  const done = s.dryRun
    ? `${s.enqueue} to enqueue (dry run: nothing changed)`
    : s.via === 'bridge'
      ? `${s.enqueue} enqueued through the running bridge`
      : `${s.enqueue} enqueued in the state store (sent when the bridge starts)`;
  return (
    `replayed ${s.from} .. ${s.to}: ${s.events} event${s.events === 1 ? '' : 's'}; ${done}; ` +
    `skipped ${s.skipped.delivered} delivered, ${s.skipped.pending} pending\n`
  );
}

export interface ProgressState {
  readonly at: BinlogPosition;
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly elapsedMs: number;
  readonly events: number;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1024 * 1024) return `${(bytesPerSecond / 1024 / 1024).toFixed(1)} MiB/s`;
  return `${(bytesPerSecond / 1024).toFixed(1)} KiB/s`;
}

/** The progress text: `tty` gives a bar (no newline; the caller redraws it with \r), else a log line. */
export function progressText(p: ProgressState, tty: boolean): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.doneBytes / p.totalBytes) : 1;
  const perSecond = p.elapsedMs > 0 ? (p.doneBytes * 1000) / p.elapsedMs : 0;
  const eta = perSecond > 0 ? ((p.totalBytes - p.doneBytes) / perSecond) * 1000 : NaN;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const etaText = Number.isFinite(eta) ? duration(eta) : '?';
  if (tty) {
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    return `[${bar}] ${pct} ${rate(perSecond)} ETA ${etaText} ${p.events} events`;
  }
  return (
    `replay: ${pct.trim()} at ${formatPosition(p.at)}, ${p.events} events, ${rate(perSecond)}, ` + `ETA ${etaText}\n`
  );
}
