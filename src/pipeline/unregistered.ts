// Which (url, event) registrations a source transaction removed: those in force when its first
// registry change was applied and no longer in force at its commit. A URL changed or cleared, or a
// row deleted, removes them; one still registered for the event (another row) keeps them.

import { EVENT_NAMES } from '../domain/events.js';
import type { Registry } from '../registry/registry.js';

export interface Registration {
  readonly url: string;
  readonly event: string;
}

/** The registrations in force, as `event url` strings. */
export function registrationsOf(registry: Registry): Set<string> {
  const out = new Set<string>();
  for (const event of EVENT_NAMES) for (const url of registry.urlsFor(event)) out.add(`${event} ${url}`);
  return out;
}

/** Registrations of `before` that `registry` no longer has. */
export function removedSince(before: ReadonlySet<string>, registry: Registry): Registration[] {
  const now = registrationsOf(registry);
  const removed: Registration[] = [];
  for (const r of before) {
    if (now.has(r)) continue;
    const space = r.indexOf(' ');
    removed.push({ event: r.slice(0, space), url: r.slice(space + 1) });
  }
  return removed;
}
