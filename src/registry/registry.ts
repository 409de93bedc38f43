// Webhook registrations, mirrored from the webhooks table (ccdata.webhooks by default) and changed
// only by apply() at the binlog position of the change, so an event is routed with the registrations
// in force when its own row change was committed. Unusable rows are reported once and skipped; rows
// the optional `when` condition does not match register nothing (they are left to uContact's own
// sender). Only the key, event and url columns of a row, and those `when` reads, are kept.

import { isEventName, type EventName } from '../domain/events.js';
import type { Row, RowChange } from '../domain/row-change.js';
import { registryColumns } from '../rules/columns.js';
import { keyString, projectRow } from '../rules/directory.js';
import { compileCondition } from '../rules/engine.js';
import type { RegistryDef } from '../rules/schema.js';

/** uContact's own url column is VARCHAR(256): a longer URL cannot be one uContact would send to. */
export const MAX_URL_LENGTH = 256;

export interface RegistryProblem {
  readonly rowId: string;
  readonly code: 'UCW_ERR_REGISTRY_BAD_ROW';
  readonly reason: string;
}

/** Why a URL from the webhooks table cannot be used, or undefined when it can. */
export function urlProblem(url: string): string | undefined {
  if (url.length > MAX_URL_LENGTH) return `url is ${url.length} characters long (limit ${MAX_URL_LENGTH})`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'url is not a valid absolute URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `url scheme ${u.protocol} is not http or https`;
  if (u.username || u.password) return 'url carries credentials (user:password@); use a signing secret instead';
  return undefined;
}

export class Registry {
  private readonly rows = new Map<string, Row>();
  private byEvent = new Map<EventName, string[]>();
  private allUrls: ReadonlySet<string> = new Set();
  private readonly reported = new Map<string, string>();
  /** The columns kept of each row (and mirrored in the store). */
  readonly columns: readonly string[];
  /** Whether the bridge serves a row (registry.when; every row without one). */
  private readonly serves: (row: Row) => boolean;

  constructor(
    readonly def: RegistryDef,
    private readonly onProblem: (p: RegistryProblem) => void,
  ) {
    this.columns = registryColumns(def);
    const when = def.when ? compileCondition(def.when) : undefined;
    // The condition reads the row as it is (validation allows only column conditions on the new image).
    this.serves = when ? (row) => when({ kind: 'insert', before: null, after: row } as RowChange) : () => true;
  }

  load(rows: Iterable<Row>): void {
    this.rows.clear();
    for (const row of rows) {
      const pk = keyString(row[this.def.key]);
      if (pk !== undefined) this.rows.set(pk, projectRow(row, this.columns));
    }
    this.rebuild();
  }

  apply(before: Row | null, after: Row | null): void {
    const oldPk = before ? keyString(before[this.def.key]) : undefined;
    if (oldPk !== undefined) this.rows.delete(oldPk);
    const newPk = after ? keyString(after[this.def.key]) : undefined;
    if (after && newPk !== undefined) this.rows.set(newPk, projectRow(after, this.columns));
    this.rebuild();
  }

  entries(): IterableIterator<[string, Row]> {
    return this.rows.entries();
  }

  urlsFor(event: EventName): readonly string[] {
    return this.byEvent.get(event) ?? [];
  }

  /** Every URL registered for at least one event. */
  urls(): ReadonlySet<string> {
    return this.allUrls;
  }

  /** Number of distinct (event, url) registrations in force. */
  get size(): number {
    let n = 0;
    for (const urls of this.byEvent.values()) n += urls.length;
    return n;
  }

  private rebuild(): void {
    const byEvent = new Map<EventName, string[]>();
    const seen = new Map<string, string>();
    const problems = new Map<string, string>();
    const ids = [...this.rows.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const id of ids) {
      const row = this.rows.get(id)!;
      const url = keyString(row[this.def.urlColumn])?.trim() ?? '';
      if (url === '' || !this.serves(row)) continue;
      const event = keyString(row[this.def.eventColumn]) ?? '';
      if (!isEventName(event)) {
        problems.set(id, `event "${event}" is not one of the six uContact events`);
        continue;
      }
      const bad = urlProblem(url);
      if (bad) {
        problems.set(id, bad);
        continue;
      }
      const dupKey = `${event} ${url}`;
      const first = seen.get(dupKey);
      if (first !== undefined) {
        problems.set(id, `duplicate of row ${first} (same event and url); delivered once`);
        continue;
      }
      seen.set(dupKey, id);
      const list = byEvent.get(event) ?? [];
      list.push(url);
      byEvent.set(event, list);
    }
    this.byEvent = byEvent;
    this.allUrls = new Set([...byEvent.values()].flat());
    for (const [id, reason] of problems) {
      if (this.reported.get(id) === reason) continue;
      this.reported.set(id, reason);
      this.onProblem({ rowId: id, code: 'UCW_ERR_REGISTRY_BAD_ROW', reason });
    }
    for (const id of [...this.reported.keys()]) if (!problems.has(id)) this.reported.delete(id);
  }
}
