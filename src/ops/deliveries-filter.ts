// The filters of `deliveries list|retry` and GET /api/deliveries: URL, event, state and a time range,
// parsed from what an operator types (states by name, times as ISO 8601 or relative like `1h`).
// Pure: `now` is passed in, so a relative time means the same thing in a test as on a terminal.

import { BridgeError } from '../errors.js';
import { DELIVERY_STATES, type DeliveryFilter, type DeliveryState } from '../outbox/delivery-queries.js';

// The state names and the filter shape belong to the store's queries; re-exported for the CLI and routes.
export { DELIVERY_STATES, type DeliveryFilter, type DeliveryState } from '../outbox/delivery-queries.js';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function invalid(message: string, hint: string): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_INVALID', message, { hint });
}

/** `1h`, `30m`, `2d` (that long before `nowMs`) or an ISO 8601 date or time (UTC unless it says). */
export function parseTime(text: string, nowMs: number, flag: string): number {
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text.trim());
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
  // A date-only or zone-less time is read as UTC (the store's times are UTC, and so is the output).
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (iso) {
    const t = text.trim().replace(' ', 'T');
    const ms = Date.parse(iso[1] === undefined && t.includes('T') ? `${t}Z` : t);
    if (Number.isFinite(ms)) return ms;
  }
  throw invalid(
    `${flag} ${JSON.stringify(text)} is not a time`,
    'Give a relative time (30s, 15m, 1h, 2d, 1w: that long ago) or an ISO 8601 time such as 2026-11-30T15:00:00Z.',
  );
}

/** A list of state names (repeated or comma-separated); `discarded` is read as `cancelled`. */
export function parseStates(values: readonly string[]): DeliveryState[] {
  const out = new Set<DeliveryState>();
  for (const raw of values.flatMap((v) => v.split(','))) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const state = name === 'discarded' ? 'cancelled' : name;
    if (!(DELIVERY_STATES as readonly string[]).includes(state)) {
      throw invalid(
        `--state ${JSON.stringify(raw)} is not a delivery state`,
        `Use one of ${DELIVERY_STATES.join(', ')} (discarded is cancelled).`,
      );
    }
    out.add(state as DeliveryState);
  }
  return [...out];
}

/** Delivery ids as typed (positive integers). */
export function parseIds(values: readonly (string | number)[]): number[] {
  return values
    .flatMap((v) => String(v).split(','))
    .filter((v) => v.trim() !== '')
    .map((v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1)
        throw invalid(`--id ${JSON.stringify(v)} is not a delivery id`, 'Delivery ids are the numbers `list` prints.');
      return n;
    });
}

/** The options as given on the command line or in a query string (each optional). */
export interface FilterInput {
  readonly url?: string;
  readonly event?: string;
  readonly state?: readonly string[];
  readonly since?: string;
  readonly until?: string;
  readonly id?: readonly (string | number)[];
}

export function parseFilter(input: FilterInput, nowMs: number): DeliveryFilter {
  const states = input.state ? parseStates(input.state) : [];
  const ids = input.id ? parseIds(input.id) : [];
  const filter: DeliveryFilter = {
    ...(input.url ? { url: input.url } : {}),
    ...(input.event ? { event: input.event } : {}),
    ...(states.length > 0 ? { states } : {}),
    ...(input.since ? { sinceMs: parseTime(input.since, nowMs, '--since') } : {}),
    ...(input.until ? { untilMs: parseTime(input.until, nowMs, '--until') } : {}),
    ...(ids.length > 0 ? { ids } : {}),
  };
  if (filter.sinceMs !== undefined && filter.untilMs !== undefined && filter.sinceMs >= filter.untilMs)
    throw invalid('--since is not before --until', 'Swap them, or give one only.');
  return filter;
}

/** The filter as a query string for GET /api/deliveries (the bridge parses it with parseFilterQuery). */
export function filterQuery(f: DeliveryFilter, limit: number): URLSearchParams {
  const q = new URLSearchParams();
  if (f.url) q.set('url', f.url);
  if (f.event) q.set('event', f.event);
  if (f.states) q.set('state', f.states.join(','));
  if (f.sinceMs !== undefined) q.set('since', new Date(f.sinceMs).toISOString());
  if (f.untilMs !== undefined) q.set('until', new Date(f.untilMs).toISOString());
  if (f.ids) q.set('id', f.ids.join(','));
  q.set('limit', String(limit));
  return q;
}

/** A filter in JSON (the body of POST /api/deliveries/retry), checked field by field. */
export function filterFromJson(body: unknown): DeliveryFilter {
  const b = (body ?? {}) as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid(`${k} must be a string`, 'See docs/operations.md, "Deliveries".');
    return v;
  };
  const list = (k: string): string[] | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw invalid(`${k} must be a list`, 'See docs/operations.md, "Deliveries".');
    return v.map(String);
  };
  const num = (k: string): number | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw invalid(`${k} must be a number (ms)`, 'See docs/operations.md, "Deliveries".');
    return v;
  };
  const states = list('states');
  const ids = list('ids');
  const sinceMs = num('sinceMs');
  const untilMs = num('untilMs');
  return {
    ...(str('url') ? { url: str('url') } : {}),
    ...(str('event') ? { event: str('event') } : {}),
    ...(states ? { states: parseStates(states) } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    ...(ids ? { ids: parseIds(ids) } : {}),
  };
}
