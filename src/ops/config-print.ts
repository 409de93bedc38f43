// `config print`: the resolved configuration as JSON, each value with where it came from (default,
// config file, environment, flag), the receivers entries, and with a source server the URLs registered
// in its webhooks table with the entry each one gets. Read-only: a SELECT of the webhooks table, nothing
// else. Invariant: no secret, header value, URL query string or user info is printed, only where each
// came from and how many there are.

import {
  configWarningMessage,
  loadConfigWithOrigins,
  OPTIONS,
  type ConfigKey,
  type ConfigSources,
  type LoadedConfig,
} from '../config/config.js';
import type { ReceiverEntry } from '../config/receivers.js';
import { matchReceiver, settingsOf, urlDefaultsOf } from '../delivery/url-settings.js';
import { Registry } from '../registry/registry.js';
import { checkRulesAgainstSchema } from '../rules/schema-check.js';
import type { RulesFile } from '../rules/schema.js';
import { parseMysqlUrl } from '../source/connection.js';
import { SourceDb } from '../source/source-db.js';
import { defaultRules, loadRulesFile } from '../rules/load.js';
import { EVENT_NAMES, type EventName } from '../domain/events.js';

export const REDACTED = '[redacted]';

/**
 * A URL or URL prefix as printed: user info dropped, query string redacted (either may hold a token);
 * otherwise as written. User info ends at the LAST '@' before the path (a password may hold '@'), as
 * URL parsing has it; a text that does not parse but holds an '@' there is not printed at all.
 */
export function redactUrlText(text: string): string {
  const noUser = text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\\]*@/i, '$1');
  if (noUser === text && /^[a-z][a-z0-9+.-]*:\/\/[^?#]*@/i.test(text) && !parses(text)) return REDACTED;
  const q = noUser.search(/[?#]/);
  return q < 0 ? noUser : `${noUser.slice(0, q)}?${REDACTED}`;
}

function parses(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** One registered URL from the webhooks table. */
export interface Registration {
  readonly url: string;
  readonly events: readonly EventName[];
}

type Printable = Record<string, unknown>;

function optionValue(key: ConfigKey, value: unknown): unknown {
  const def = OPTIONS.find((o) => o.key === key);
  if (value === undefined) return null;
  if (key === 'mysqlUrl') {
    try {
      return `mysql://${REDACTED}@${parseMysqlUrl(typeof value === 'string' ? value : '').display}/`;
    } catch {
      return REDACTED;
    }
  }
  if (def?.secret) return Array.isArray(value) ? value.map(() => REDACTED) : REDACTED;
  if (key === 'envelopeUrlPrefix' && Array.isArray(value)) return value.map((v) => redactUrlText(String(v)));
  return value;
}

function receiverOut(r: ReceiverEntry): Printable {
  const out: Printable = { receiver: r.label };
  if (r.url !== undefined) out.url = redactUrlText(r.url);
  if (r.urlPrefix !== undefined) out.urlPrefix = redactUrlText(r.urlPrefix);
  out.signingSecrets = r.signingSecrets
    ? r.signingSecrets.map((_, i) => ({ value: REDACTED, from: r.secretOrigins?.[i] ?? 'file' }))
    : 'global (--signing-secret)';
  if (r.headers)
    out.headers = Object.fromEntries(
      Object.keys(r.headers).map((name) => [name, { value: REDACTED, from: r.headerOrigins?.[name] ?? 'file' }]),
    );
  for (const k of [
    'rateLimitPerSecond',
    'timeoutMs',
    'connectTimeoutMs',
    'concurrency',
    'bodyFormat',
    'maxAttempts',
    'maxAgeMs',
  ] as const)
    if (r[k] !== undefined) out[k] = r[k];
  return out;
}

/** The printed document. `registrations`: undefined when no source server was given. */
export function renderConfigPrint(loaded: LoadedConfig, registrations?: readonly Registration[]): Printable {
  const { config, origins } = loaded;
  const options: Printable = {};
  for (const def of OPTIONS) {
    const o = origins[def.key] ?? { source: 'default' };
    options[def.key] = { value: optionValue(def.key, config[def.key]), ...o };
  }
  const out: Printable = {
    options,
    receivers: { source: origins.receivers?.source ?? 'default', entries: config.receivers.map(receiverOut) },
  };
  if (registrations) {
    const defaults = urlDefaultsOf(config);
    out.registeredUrls = registrations.map((reg) => {
      const entry = matchReceiver(config.receivers, reg.url);
      const s = settingsOf(entry, reg.url, defaults);
      return {
        url: redactUrlText(reg.url),
        events: reg.events,
        receiver: entry?.label ?? null,
        settings: {
          signingSecrets: entry?.signingSecrets ? `${s.signingSecrets.length} of its own` : 'global',
          headers: Object.keys(s.headers),
          rateLimitPerSecond: s.rateLimitPerSecond ?? null,
          timeoutMs: s.timeoutMs,
          connectTimeoutMs: s.connectTimeoutMs,
          concurrency: s.concurrency,
          bodyFormat: s.bodyFormat,
          maxAttempts: s.maxAttempts,
          maxAgeMs: s.maxAgeMs,
        },
      };
    });
  }
  return out;
}

/** The registered URLs of the source's webhooks table, read once (a SELECT; nothing is written). */
export async function readRegistrations(mysqlUrl: string, rules: RulesFile): Promise<Registration[]> {
  const db = new SourceDb(parseMysqlUrl(mysqlUrl));
  try {
    const resolved = await checkRulesAgainstSchema(rules, (tables) => db.columnsOf(tables));
    // Unusable rows are skipped here as the bridge skips them (it logs them when it runs).
    const registry = new Registry(resolved.registry, () => undefined);
    registry.load(await db.snapshot(resolved.registry.table, registry.columns));
    const byUrl = new Map<string, EventName[]>();
    for (const event of EVENT_NAMES)
      for (const url of registry.urlsFor(event)) byUrl.set(url, [...(byUrl.get(url) ?? []), event]);
    return [...byUrl].map(([url, events]) => ({ url, events })).sort((a, b) => a.url.localeCompare(b.url));
  } finally {
    await db.close();
  }
}

/**
 * The `config print` command: the document on `out`, the configuration's warnings (codes, paths,
 * never values) on `err`. A source server is optional; without one the registered URLs are left out.
 */
export async function printConfig(
  sources: Omit<ConfigSources, 'onWarning'>,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const loaded = loadConfigWithOrigins(
    { ...sources, onWarning: (w) => err.write(`ucontact-webhooks: ${w.code}: ${configWarningMessage(w)}\n`) },
    { mysqlUrlOptional: true },
  );
  const { mysqlUrl, rules } = loaded.config;
  const registrations = mysqlUrl
    ? await readRegistrations(mysqlUrl, rules ? loadRulesFile(rules) : defaultRules())
    : undefined;
  out.write(`${JSON.stringify(renderConfigPrint(loaded, registrations), null, 2)}\n`);
  return 0;
}
