// `deliveries list|show|retry|discard|resume`: what each does, on a running bridge (through its admin
// API, so it never opens the store for writing) or on a stopped one (under the state dir's lock).
// list and show read the store read-only either way (no lock, nothing changed). Rendering is in
// deliveries-render.ts; the store queries in outbox/delivery-queries.ts.

import { BridgeError } from '../errors.js';
import { GONE_PAUSES_META_KEY } from '../delivery/pause-store.js';
import type { WarningCode } from '../errors.js';
import type { DeliveryPage } from '../outbox/delivery-queries.js';
import { StateStore } from '../outbox/state-store.js';
import { safeUrl } from '../safe-url.js';
import { withBridgeOrStore } from './admin-client.js';
import type { DeliveryFilter } from './deliveries-filter.js';
import { deliveryDetailView, deliveryView, type DeliveryDetailView, type DeliveryView } from './deliveries-render.js';

/** Where an action was carried out: by the running bridge, or on the store with none running. */
export type Via = 'bridge' | 'store';

export interface RetryResult {
  readonly via: Via;
  readonly requeued: number;
  readonly dead: number;
  readonly cancelled: number;
}

function readStore<T>(stateDir: string, read: (store: StateStore) => T): T {
  const store = new StateStore({ stateDir, synchronous: 'full', readonly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** The dead letters in the shape `dead-letters list` printed (kept for its scripts), oldest first. */
/** Dead letters in the shape `dead-letters list` always printed, the URL as logs show it. */
export function listDeadLetters(stateDir: string, limit: number): unknown[] {
  return readStore(stateDir, (s) => s.deadLetters(limit).map((d) => ({ ...d, url: safeUrl(d.url) })));
}

/** `cut`: the bounded walk stopped short (outbox/delivery-queries.ts): more may exist below belowId. */
export function listDeliveries(
  stateDir: string,
  filter: DeliveryFilter,
  limit: number,
): { rows: DeliveryView[]; cut?: DeliveryPage['cut'] } {
  return readStore(stateDir, (s) => {
    const page = s.deliveries.list(filter, limit);
    return { rows: page.deliveries.map(deliveryView), ...(page.cut ? { cut: page.cut } : {}) };
  });
}

export function showDelivery(stateDir: string, id: number): DeliveryDetailView {
  const d = readStore(stateDir, (s) => s.deliveries.show(id));
  if (!d) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `no delivery ${id} in ${stateDir}`, {
      hint: 'Take the id from `deliveries list`; delivered ones are pruned after --delivered-retention-hours.',
    });
  }
  return deliveryDetailView(d, true);
}

/** The filter as the JSON body of POST /api/deliveries/retry. */
function filterJson(f: DeliveryFilter, all: boolean): Record<string, unknown> {
  return { ...f, ...(all ? { all: true } : {}) };
}

export function retryDeliveries(stateDir: string, filter: DeliveryFilter, all: boolean): Promise<RetryResult> {
  return withBridgeOrStore<RetryResult>(stateDir, {
    offline: (store) => {
      const r = store.deliveries.requeue(filter);
      return { via: 'store', requeued: r.total, dead: r.dead, cancelled: r.total - r.dead };
    },
    online: async (client) => {
      const r = await client.call<Omit<RetryResult, 'via'>>('POST', '/api/deliveries/retry', filterJson(filter, all));
      return { via: 'bridge', ...r };
    },
  });
}

export async function discardDeliveries(
  stateDir: string,
  url: string,
  event: string | undefined,
): Promise<{ via: Via; discarded: number }> {
  return withBridgeOrStore<{ via: Via; discarded: number }>(stateDir, {
    offline: (store) => {
      const reason = `${'UCW_WARN_DELIVERY_CANCELLED' satisfies WarningCode}: discarded by the operator`;
      const discarded = store.cancelPending(url, event ? [event] : undefined, [], reason);
      return { via: 'store', discarded };
    },
    online: async (client) => {
      const r = await client.call<{ discarded: number }>('POST', '/api/deliveries/discard', { url, event });
      return { via: 'bridge', discarded: r.discarded };
    },
  });
}

/**
 * Resumes a paused or failing URL now. A running bridge ends its wait at once; with none running the
 * saved 410 pause is cleared, so the next start sends to it freely (a failing state is not saved).
 */
export async function resumeUrl(stateDir: string, url: string): Promise<{ via: Via; was: string }> {
  return withBridgeOrStore<{ via: Via; was: string }>(stateDir, {
    offline: (store) => {
      const raw = store.getMeta(GONE_PAUSES_META_KEY);
      const saved = raw === undefined ? {} : (JSON.parse(raw) as Record<string, unknown>);
      // Its deliveries waited for the pause's end (or a retry time): due at the next start.
      store.deliveries.makeDue(url);
      if (!(url in saved)) return { via: 'store', was: 'healthy' };
      delete saved[url];
      store.setMeta(GONE_PAUSES_META_KEY, JSON.stringify(saved));
      return { via: 'store', was: 'paused' };
    },
    online: async (client) => {
      const r = await client.call<{ was: string }>('POST', '/api/urls/resume', { url });
      return { via: 'bridge', was: r.was };
    },
  });
}

/** The one line each action prints on a terminal. */
export function actionLine(
  action: 'retry' | 'discard' | 'resume',
  r: { via: Via } & Record<string, unknown>,
  url?: string,
): string {
  const where = r.via === 'bridge' ? 'by the running bridge' : 'in the state store (no bridge running)';
  const n = (k: string): string => String(r[k]);
  if (action === 'retry') {
    const what = `${n('requeued')} deliveries (${n('dead')} dead, ${n('cancelled')} cancelled)`;
    return `requeued ${what} with their ids and a fresh retry budget, ${where}\n`;
  }
  if (action === 'discard') {
    const what = `${n('discarded')} pending deliveries of ${safeUrl(url ?? '')}`;
    return `discarded ${what} (kept as cancelled, never sent), ${where}\n`;
  }
  return r.was === 'healthy'
    ? `${safeUrl(url ?? '')} was neither paused nor failing: nothing to resume\n`
    : `resumed ${safeUrl(url ?? '')} (was ${String(r.was)}), ${where}\n`;
}
