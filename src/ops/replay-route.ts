// POST /api/replay on a running bridge (write access): the events `replay` regenerated, in batches.
// The bridge, the only writer of its store, picks the never-delivered (event, URL) pairs and inserts
// them as the processor does, then hands the new deliveries to its scheduler, which sends them.

import { z } from 'zod';
import { EVENT_NAMES, type EventName } from '../domain/events.js';
import type { Delivery } from '../outbox/state-store.js';
import { RouteError, type AdminRoute } from '../observe/admin-api.js';
import { applyReplay, type ReplayDecision, type ReplayEvent, type ReplayStore } from './replay-dedup.js';

export const REPLAY_PATH = '/api/replay';

const position = z.strictObject({ file: z.string().min(1), pos: z.number().int().min(0) });
const replayEvent = z.strictObject({
  id: z.string().min(1),
  name: z.enum(EVENT_NAMES as unknown as [string, ...string[]]),
  orderKey: z.string(),
  occurredAtMs: z.number(),
  committedAtMs: z.number().optional(),
  body: z.string(),
  urls: z.array(z.string().min(1)),
  source: position,
  span: z.strictObject({ from: z.number().int().min(0), to: z.number().int().min(0) }),
});
const replayBody = z.strictObject({ force: z.boolean(), events: z.array(replayEvent) });

export type ReplayRequest = z.infer<typeof replayBody>;
export interface ReplayAnswer {
  readonly decisions: ReplayDecision[][];
  readonly enqueued: number;
}

export function replayRoutes(deps: {
  outbox: ReplayStore;
  /** Told of the deliveries created (the scheduler's enqueue). */
  enqueue: (created: Delivery[]) => void;
  /** The URLs registered now for an event: a replay goes only there (never to a caller's URL). */
  registeredUrlsFor: (event: EventName) => readonly string[];
}): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: REPLAY_PATH,
      access: 'write',
      handle: ({ body }) => {
        const parsed = replayBody.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new RouteError(400, 'bad_request', `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
        }
        const events = parsed.data.events as unknown as ReplayEvent[];
        for (const ev of events) {
          const registered = new Set(deps.registeredUrlsFor(ev.name));
          const foreign = ev.urls.filter((u) => !registered.has(u));
          if (foreign.length > 0) {
            throw new RouteError(
              400,
              'url_not_registered',
              `event ${ev.id}: ${foreign.length} URL(s) not registered for ${ev.name}; nothing was replayed`,
            );
          }
        }
        const { decisions, created } = applyReplay(deps.outbox, events, { force: parsed.data.force, dryRun: false });
        if (created.length > 0) deps.enqueue(created);
        const answer: ReplayAnswer = { decisions, enqueued: created.length };
        return { status: 200, json: answer };
      },
    },
  ];
}
