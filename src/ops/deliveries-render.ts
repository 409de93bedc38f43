// How deliveries are shown: one JSON view shared by `deliveries list --json`, GET /api/deliveries and
// `deliveries show`, and the text forms for a terminal (a table, one delivery in full). Pure. URLs are
// shown in their safe form (src/safe-url.ts); times are ISO 8601 UTC. Only `show` prints an event body
// (personal data: for the operator's terminal, never for a log).

import type { DeliveryDetail, DeliverySummary } from '../outbox/delivery-queries.js';
import { safeUrl } from '../safe-url.js';

export interface DeliveryView {
  readonly id: number;
  readonly url: string;
  readonly event: string;
  readonly eventId: string;
  readonly state: string;
  readonly attempts: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Pending and retrying only: when the next attempt is due. */
  readonly nextAttemptAt?: string;
}

export interface DeliveryDetailView extends DeliveryView {
  readonly orderKey: string;
  readonly occurredAt: string;
  readonly firstAttemptAt?: string;
  readonly source: { readonly file: string; readonly pos: number };
  /** The event body as sent (absent from the admin API's answer). */
  readonly body?: unknown;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function deliveryView(d: DeliverySummary): DeliveryView {
  const waiting = d.state === 'pending' || d.state === 'retrying';
  return {
    id: d.id,
    url: safeUrl(d.url),
    event: d.eventName,
    eventId: d.eventId,
    state: d.state,
    attempts: d.attempts,
    ...(d.lastStatus !== null ? { lastStatus: d.lastStatus } : {}),
    ...(d.lastError !== null ? { lastError: d.lastError } : {}),
    createdAt: iso(d.createdAtMs),
    updatedAt: iso(d.updatedAtMs),
    ...(waiting ? { nextAttemptAt: iso(d.nextAttemptAtMs) } : {}),
  };
}

/** `withBody`: the CLI on the operator's terminal; the admin API leaves the body out. */
export function deliveryDetailView(d: DeliveryDetail, withBody: boolean): DeliveryDetailView {
  let body: unknown;
  if (withBody) {
    try {
      body = JSON.parse(d.body);
    } catch {
      body = d.body;
    }
  }
  return {
    ...deliveryView(d),
    orderKey: d.orderKey,
    occurredAt: iso(d.occurredAtMs),
    ...(d.firstAttemptAtMs !== null ? { firstAttemptAt: iso(d.firstAttemptAtMs) } : {}),
    source: d.source,
    ...(withBody ? { body } : {}),
  };
}

/** Cuts a cell to `max` characters (an ellipsis says it was cut). */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The table `deliveries list` prints on a terminal (newest first, as given). */
export function renderTable(rows: readonly DeliveryView[]): string {
  if (rows.length === 0) return 'no deliveries match\n';
  const header = ['ID', 'STATE', 'EVENT', 'ATTEMPTS', 'CREATED', 'URL', 'LAST ERROR'];
  const lines = rows.map((r) => [
    String(r.id),
    r.state,
    r.event,
    String(r.attempts),
    r.createdAt.slice(0, 19).replace('T', ' '),
    cut(r.url, 48),
    cut(r.lastError ?? '', 60),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[fmt(header), ...lines.map(fmt)].join('\n')}\n`;
}

/** JSON lines: one delivery per line (`--json`). */
export function renderJsonLines(rows: readonly DeliveryView[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** One delivery in full, its body pretty-printed (`deliveries show`). */
export function renderDetail(d: DeliveryDetailView): string {
  const lines = [
    `delivery ${d.id}: ${d.state}`,
    `  url            ${d.url}`,
    `  event          ${d.event} (id ${d.eventId}, webhook-id of every attempt)`,
    `  order key      ${d.orderKey}`,
    `  occurred at    ${d.occurredAt}`,
    `  enqueued at    ${d.createdAt}  (binlog ${d.source.file}:${d.source.pos})`,
    `  attempts       ${d.attempts}${d.firstAttemptAt ? ` (first at ${d.firstAttemptAt})` : ''}`,
    ...(d.nextAttemptAt ? [`  next attempt   ${d.nextAttemptAt}`] : []),
    `  last change    ${d.updatedAt}`,
    ...(d.lastStatus !== undefined ? [`  last status    ${d.lastStatus}`] : []),
    ...(d.lastError !== undefined ? [`  last error     ${d.lastError}`] : []),
  ];
  if (d.body !== undefined) {
    const body = typeof d.body === 'string' ? d.body : JSON.stringify(d.body, null, 2);
    lines.push('  body:', ...body.split('\n').map((l) => `    ${l}`));
  }
  return `${lines.join('\n')}\n`;
}
