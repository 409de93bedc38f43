// Persistence of 410 Gone pauses, so a restart does not hammer a gone receiver: one JSON value under
// the state store's meta key. Invariant: a failure to read or write is logged and costs at most an
// early probe; it never stops delivery.

import type { Logger } from '../logger.js';
import type { StateStore } from '../outbox/state-store.js';

/** State store meta key of the persisted pauses: JSON { [url]: { untilMs, probeKey, sinceMs } }. */
export const GONE_PAUSES_META_KEY = 'gone_pauses';

export interface SavedPause {
  readonly untilMs: number;
  /** The key whose head is the probe (the one that got the 410). */
  readonly probeKey: string | undefined;
  /** When the URL was first paused: time since then spends no age budget. */
  readonly sinceMs: number | undefined;
}

export interface PauseStore {
  load(): Map<string, SavedPause>;
  save(pauses: ReadonlyMap<string, SavedPause>): void;
}

export function outboxPauseStore(outbox: Pick<StateStore, 'getMeta' | 'setMeta'>, logger: Logger): PauseStore {
  return {
    load() {
      const out = new Map<string, SavedPause>();
      let saved: Record<string, { untilMs?: unknown; probeKey?: unknown; sinceMs?: unknown }> = {};
      try {
        const raw = outbox.getMeta(GONE_PAUSES_META_KEY);
        if (raw !== undefined) saved = JSON.parse(raw) as typeof saved;
      } catch (err) {
        logger.warn({ err }, 'cannot read the saved 410 Gone pauses; ignoring them');
      }
      for (const [url, p] of Object.entries(saved)) {
        if (typeof p.untilMs !== 'number') continue;
        const probeKey = typeof p.probeKey === 'string' ? p.probeKey : undefined;
        out.set(url, { untilMs: p.untilMs, probeKey, sinceMs: typeof p.sinceMs === 'number' ? p.sinceMs : undefined });
      }
      return out;
    },
    save(pauses) {
      try {
        outbox.setMeta(GONE_PAUSES_META_KEY, JSON.stringify(Object.fromEntries(pauses)));
      } catch (err) {
        // Only costs an early probe after a restart; the pause itself holds in memory.
        logger.warn({ err }, 'cannot save the 410 Gone pauses');
      }
    },
  };
}
