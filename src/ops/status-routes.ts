// The running bridge's status on its admin API: GET /api/status (the snapshot as JSON) and GET /
// (the status page), both read access. The live part is read on every request, the server's from
// the sampler's latest read, and the store's at most every STORE_MIN_TTL_MS, or every
// STORE_COST_FACTOR times as long as its last read took: reading it runs on the thread that reads
// the binlog, so open pages cost it at most about a tenth of its time, however large the store.

import type { AdminRoute } from '../observe/admin-api.js';
import { renderStatusPage } from '../observe/status-page.js';
import type { StateStore } from '../outbox/state-store.js';
import type { StoreStatus } from '../outbox/status-queries.js';
import type { SourceStatus, StatusSnapshot } from './status-types.js';
import { buildSnapshot, DEAD_LETTERS_SHOWN, type LiveState, type LiveUrl } from './status.js';

const STORE_MIN_TTL_MS = 2_000;
const STORE_COST_FACTOR = 10;

export interface StatusRoutesDeps {
  readonly version: string;
  readonly outbox: Pick<StateStore, 'status'>;
  readonly urlStates: () => readonly LiveUrl[];
  /** Registered URLs (shown even before their first delivery). */
  readonly registeredUrls: () => Iterable<string>;
  readonly source: { readonly connected: boolean; readonly lastError: string | undefined };
  readonly server: () => Partial<SourceStatus>;
  readonly now?: () => number;
}

export function statusSnapshotOf(deps: StatusRoutesDeps): () => StatusSnapshot {
  const now = deps.now ?? Date.now;
  let cached: { store: StoreStatus; atMs: number; ttlMs: number } | undefined;
  return () => {
    const nowMs = now();
    const urls = [...deps.urlStates()];
    for (const url of deps.registeredUrls())
      if (!urls.some((u) => u.url === url)) urls.push({ url, inFlight: 0, mode: 'healthy' });
    if (!cached || nowMs - cached.atMs >= cached.ttlMs) {
      const t0 = performance.now();
      const store = deps.outbox.status(
        DEAD_LETTERS_SHOWN,
        urls.map((u) => u.url),
      );
      const ttlMs = Math.max(STORE_MIN_TTL_MS, STORE_COST_FACTOR * (performance.now() - t0));
      cached = { store, atMs: nowMs, ttlMs };
    }
    const live: LiveState = { connected: deps.source.connected, lastError: deps.source.lastError, urls };
    return buildSnapshot({ version: deps.version, nowMs, store: cached.store, live, server: deps.server() });
  };
}

export function statusRoutes(deps: StatusRoutesDeps): AdminRoute[] {
  const snapshot = statusSnapshotOf(deps);
  return [
    { method: 'GET', path: '/api/status', access: 'read', handle: () => ({ status: 200, json: snapshot() }) },
    { method: 'GET', path: '/', access: 'read', handle: () => ({ status: 200, html: renderStatusPage(snapshot()) }) },
  ];
}
