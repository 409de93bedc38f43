// The admin API's delivery routes on a running bridge: GET /api/deliveries (read), and the write
// actions POST /api/deliveries/retry, POST /api/deliveries/discard, POST /api/urls/resume. Each write
// goes through the DeliveryScheduler, so its in-memory queues, the URLs' health and the store stay one
// story: a retried dead letter is paged in and sent at once, a discarded backlog leaves memory too.

import { isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RouteError, type AdminRoute } from '../observe/admin-api.js';
import type { Metrics } from '../observe/metrics.js';
import type { StateStore } from '../outbox/state-store.js';
import { safeUrl } from '../safe-url.js';
import type { DeliveryScheduler } from '../delivery/scheduler.js';
import { filterFromJson, parseFilter, type DeliveryFilter } from './deliveries-filter.js';
import { deliveryDetailView, deliveryView } from './deliveries-render.js';

/** Most rows GET /api/deliveries answers with. */
export const MAX_LIST_LIMIT = 1_000;
const DEFAULT_LIST_LIMIT = 100;

export interface DeliveryRoutesOptions {
  readonly scheduler: Pick<DeliveryScheduler, 'requeued' | 'discard' | 'resume'>;
  readonly outbox: Pick<StateStore, 'deliveries'>;
  readonly metrics: Pick<Metrics, 'outboxDead'>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly now?: () => number;
}

/** A filter or parameter the caller got wrong: 400 with the message (a BridgeError from parsing). */
function badRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isBridgeError(err)) throw new RouteError(400, 'bad_request', err.message);
    throw err;
  }
}

function requiredUrl(body: unknown): string {
  const url = (body as { url?: unknown } | undefined)?.url;
  if (typeof url !== 'string' || url === '') throw new RouteError(400, 'bad_request', 'url is required');
  return url;
}

/** Retrying every dead letter of every URL is asked for by name, never by an empty filter. */
function isEmpty(f: DeliveryFilter): boolean {
  return !f.url && !f.event && !f.states && f.sinceMs === undefined && f.untilMs === undefined && !f.ids;
}

export function deliveryRoutes(opts: DeliveryRoutesOptions): AdminRoute[] {
  const { scheduler, outbox, metrics, logger } = opts;
  const now = opts.now ?? Date.now;
  return [
    {
      method: 'GET',
      path: '/api/deliveries',
      access: 'read',
      handle: ({ query }) => {
        const q = (k: string): string | undefined => query.get(k) ?? undefined;
        const filter = badRequest(() =>
          parseFilter(
            {
              url: q('url'),
              event: q('event'),
              state: q('state') ? [q('state')!] : undefined,
              since: q('since'),
              until: q('until'),
              id: q('id') ? [q('id')!] : undefined,
            },
            now(),
          ),
        );
        // One delivery in full, but never its body over HTTP: `deliveries show` prints that locally.
        if (filter.ids?.length === 1 && query.get('detail') === '1') {
          const d = outbox.deliveries.show(filter.ids[0]!);
          if (!d) throw new RouteError(404, 'not_found', `no delivery ${filter.ids[0]}`);
          return { status: 200, json: { delivery: deliveryDetailView(d, false) } };
        }
        const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Number(q('limit') ?? DEFAULT_LIST_LIMIT) || 1));
        const page = outbox.deliveries.list(filter, limit);
        // `cut`: the walk stopped at its bound; more may exist below cut.belowId (narrow the filter).
        const json = { deliveries: page.deliveries.map(deliveryView), ...(page.cut ? { cut: page.cut } : {}) };
        return { status: 200, json };
      },
    },
    {
      method: 'POST',
      path: '/api/deliveries/retry',
      access: 'write',
      handle: ({ body }) => {
        const { all, ...rest } = (body ?? {}) as { all?: unknown };
        const filter = badRequest(() => filterFromJson(rest));
        if (isEmpty(filter) && all !== true)
          throw new RouteError(400, 'bad_request', 'name what to retry (url, event, states, time, ids) or all: true');
        const r = outbox.deliveries.requeue(filter);
        scheduler.requeued(r.byUrl);
        metrics.outboxDead.dec(r.dead);
        if (r.total > 0) {
          logger.info(
            { requeued: r.total, dead: r.dead, urls: [...r.byUrl.keys()].map(safeUrl) },
            'deliveries requeued by the operator with a fresh retry budget (same ids)',
          );
        }
        return { status: 200, json: { requeued: r.total, dead: r.dead, cancelled: r.total - r.dead } };
      },
    },
    {
      method: 'POST',
      path: '/api/deliveries/discard',
      access: 'write',
      handle: ({ body }) => {
        const url = requiredUrl(body);
        const event = (body as { event?: unknown }).event;
        if (event !== undefined && typeof event !== 'string')
          throw new RouteError(400, 'bad_request', 'event must be a string');
        const discarded = scheduler.discard(url, event ? [event] : undefined);
        return { status: 200, json: { url: safeUrl(url), discarded } };
      },
    },
    {
      method: 'POST',
      path: '/api/urls/resume',
      access: 'write',
      handle: ({ body }) => {
        const url = requiredUrl(body);
        const was = scheduler.resume(url);
        if (was !== 'healthy') logger.info({ url: safeUrl(url), was }, 'URL resumed by the operator');
        return { status: 200, json: { url: safeUrl(url), was } };
      },
    },
  ];
}
