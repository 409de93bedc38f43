// `check`: every registration in the webhooks table, judged by the bridge's own Registry (pure): a
// served row is OK, an unusable one (bad URL, unknown event, over 256 characters, a duplicate) is a
// WARN with its reason (the bridge skips it and serves the others). URLs are shown through safe-url.ts.

import type { CheckResult } from '../check-result.js';
import { CODES } from '../error-codes.js';
import type { Row } from '../domain/row-change.js';
import { isEventName } from '../domain/events.js';
import { Registry, type RegistryProblem } from '../registry/registry.js';
import { keyString } from '../rules/directory.js';
import type { RegistryDef } from '../rules/schema.js';
import { safeUrlOrText } from '../safe-url.js';

/** Longest URL shown in a line (a URL over 256 characters is named by its start). */
const SHOWN_URL_CHARS = 80;

function shown(url: string): string {
  const safe = safeUrlOrText(url);
  return safe.length > SHOWN_URL_CHARS ? `${safe.slice(0, SHOWN_URL_CHARS)}...` : safe;
}

export interface RegistryReport {
  readonly checks: CheckResult[];
  /** The distinct URLs the bridge would deliver to (what --probe tries). */
  readonly urls: string[];
}

export function registryChecks(def: RegistryDef, rows: readonly Row[]): RegistryReport {
  const problems = new Map<string, RegistryProblem>();
  const registry = new Registry(def, (p) => problems.set(p.rowId, p));
  registry.load(rows);
  const checks: CheckResult[] = [];
  const byId = [...registry.entries()].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }));
  for (const [id, row] of byId) {
    const url = keyString(row[def.urlColumn])?.trim() ?? '';
    const event = keyString(row[def.eventColumn]) ?? '';
    const name = `webhook ${def.table} ${def.key}=${id}`;
    const problem = problems.get(id);
    if (problem) {
      checks.push({
        name,
        status: 'WARN',
        code: problem.code,
        message: `${event || '(no event)'} -> ${url === '' ? '(empty)' : shown(url)}: ${problem.reason}; skipped`,
        hint: CODES[problem.code].hint,
      });
    } else if (url !== '' && isEventName(event) && registry.urlsFor(event).includes(url)) {
      checks.push({ name, status: 'OK', message: `${event} -> ${shown(url)}` });
    }
  }
  if (registry.size === 0) {
    checks.push({
      name: 'webhooks',
      status: 'WARN',
      code: 'UCW_WARN_REGISTRY_EMPTY',
      message: `no usable URL is registered in ${def.table}: the bridge would deliver nothing`,
      hint: CODES.UCW_WARN_REGISTRY_EMPTY.hint,
    });
  }
  return { checks, urls: [...registry.urls()] };
}
