// Builds the one StatusSnapshot from its parts: what the store holds (status-queries.ts), what only a
// running bridge knows (in flight, failing/paused, the source connection) and what the server says
// (source-lag-query.ts). Pure: the callers gather the parts, so the merge is unit-tested.

import type { SavedPause } from '../delivery/pause-store.js';
import type { StoreStatus } from '../outbox/status-queries.js';
import { safeUrl } from '../safe-url.js';
import type { SourceStatus, StatusSnapshot, UrlState, UrlStatus } from './status-types.js';

/** The latest dead letters a snapshot lists. */
export const DEAD_LETTERS_SHOWN = 20;

export interface LiveUrl {
  readonly url: string;
  readonly inFlight: number;
  readonly mode: 'healthy' | 'failing' | 'paused';
  /** End of the current wait of a failing or paused URL (epoch ms). */
  readonly untilMs?: number;
  /** Time its deliveries were held back by its rate limit so far (absent: not rate-limited). */
  readonly rateLimitedWaitMs?: number;
}

/** What only the running bridge knows. */
export interface LiveState {
  readonly connected: boolean;
  readonly lastError?: string | undefined;
  readonly urls: readonly LiveUrl[];
}

export interface SnapshotParts {
  readonly version: string;
  readonly nowMs: number;
  readonly store: StoreStatus;
  /** Saved 410 pauses (from the store; the running bridge's live state supersedes them). */
  readonly pauses?: ReadonlyMap<string, SavedPause>;
  readonly live?: LiveState;
  /** Fields from the server (head, lag, headroom), when one was asked. */
  readonly server?: Partial<SourceStatus>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function stateOf(url: string, parts: SnapshotParts): { state: UrlState; pausedUntil?: string } {
  const live = parts.live?.urls.find((u) => u.url === url);
  if (live) {
    if (live.mode === 'healthy') return { state: 'ok' };
    const state = live.mode === 'paused' ? 'paused' : 'failing';
    return live.untilMs === undefined ? { state } : { state, pausedUntil: iso(live.untilMs) };
  }
  const saved = parts.live ? undefined : parts.pauses?.get(url);
  return saved ? { state: 'paused', pausedUntil: iso(saved.untilMs) } : { state: 'ok' };
}

export function buildSnapshot(parts: SnapshotParts): StatusSnapshot {
  const { store, live, nowMs } = parts;
  const rawUrls = new Set([...store.urls.map((u) => u.url), ...(live?.urls.map((u) => u.url) ?? [])]);
  const urls = [...rawUrls].sort().map((url): UrlStatus => {
    const s = store.urls.find((u) => u.url === url);
    const liveUrl = live?.urls.find((u) => u.url === url);
    const { state, pausedUntil } = stateOf(url, parts);
    return {
      url: safeUrl(url),
      pending: s?.pending ?? 0,
      inFlight: liveUrl?.inFlight ?? 0,
      retrying: s?.retrying ?? 0,
      dead: s?.dead ?? 0,
      cancelled: s?.cancelled ?? 0,
      state,
      ...(pausedUntil ? { pausedUntil } : {}),
      ...(s?.lastSuccessAtMs !== undefined ? { lastSuccessAt: iso(s.lastSuccessAtMs) } : {}),
      ...(s?.lastError
        ? {
            lastError: {
              at: iso(s.lastError.atMs),
              message: s.lastError.message,
              ...(s.lastError.status !== undefined ? { status: s.lastError.status } : {}),
            },
          }
        : {}),
      ...(s?.oldestPendingAtMs !== undefined
        ? { oldestPendingAgeSeconds: Math.max(0, Math.round((nowMs - s.oldestPendingAtMs) / 1000)) }
        : {}),
      ...(liveUrl?.rateLimitedWaitMs !== undefined
        ? { rateLimitedWaitSeconds: Math.round(liveUrl.rateLimitedWaitMs / 100) / 10 }
        : {}),
    };
  });
  const cp = store.checkpoint;
  const source: SourceStatus = {
    ...(live ? { connected: live.connected } : {}),
    ...(live?.lastError !== undefined ? { lastError: live.lastError } : {}),
    ...(cp
      ? {
          checkpoint: {
            file: cp.file,
            position: cp.pos,
            ...(cp.gtid !== undefined ? { gtid: cp.gtid } : {}),
            ...(cp.commitTimeMs !== undefined ? { commitTime: iso(cp.commitTimeMs) } : {}),
          },
        }
      : {}),
    ...parts.server,
  };
  return {
    version: parts.version,
    generatedAt: iso(nowMs),
    from: live ? 'bridge' : 'store',
    source,
    urls,
    deadLetters: store.deadLetters.slice(0, DEAD_LETTERS_SHOWN).map((d) => ({
      id: d.id,
      url: safeUrl(d.url),
      event: d.eventName,
      eventId: d.eventId,
      attempts: d.attempts,
      failedAt: iso(d.failedAtMs),
      ...(d.lastError !== null ? { lastError: d.lastError } : {}),
    })),
  };
}
