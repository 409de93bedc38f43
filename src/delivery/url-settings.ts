// The settings one webhook URL is delivered with: its receivers entry (an exact `url` first, else the
// longest matching `urlPrefix`) over the global defaults. Pure data in, pure data out, so the
// scheduler's thread and the delivery worker resolve the same way; each caches per URL, so the hot
// path looks a URL up once, not per attempt.

import type { Config } from '../config/config.js';
import type { ReceiverEntry } from '../config/receivers.js';
import type { BodyFormat } from './types.js';

/** What a URL gets when no receivers entry says otherwise (the global options). */
export interface UrlDefaults {
  readonly signingSecrets: readonly string[];
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly concurrency: number;
  readonly bodyFormat: BodyFormat;
  /** Deprecated --envelope-url-prefix: URLs starting with one get the envelope unless an entry says. */
  readonly envelopeUrlPrefix: readonly string[];
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
}

export interface UrlSettings {
  /** The entry's label, or undefined: the defaults. */
  readonly receiver: string | undefined;
  readonly signingSecrets: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly concurrency: number;
  readonly bodyFormat: BodyFormat;
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  /** Undefined: not rate-limited. */
  readonly rateLimitPerSecond: number | undefined;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** `text` parsed as a URL, or undefined when it is not one. */
function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/**
 * The length of the prefix's path when `url` falls under `prefix`, else -1. Compared parsed, never as
 * text, so `https://hooks.partner.com` does not match `https://hooks.partner.com.attacker.net/`: same
 * scheme, host and port, and a path equal to the prefix's or below it by whole segments.
 */
export function prefixMatchLength(prefix: string, url: string): number {
  const p = parseUrl(prefix);
  const u = parseUrl(url);
  if (!p || !u || p.protocol !== u.protocol || p.host !== u.host) return -1;
  const base = p.pathname;
  const path = u.pathname;
  if (path === base) return base.length;
  const dir = base.endsWith('/') ? base : `${base}/`;
  return path.startsWith(dir) ? base.length : -1;
}

/** The entry for `url`: an exact `url` wins, else the longest `urlPrefix` it falls under. */
export function matchReceiver(receivers: readonly ReceiverEntry[], url: string): ReceiverEntry | undefined {
  let best: ReceiverEntry | undefined;
  let bestLength = -1;
  for (const r of receivers) {
    if (r.url !== undefined) {
      if (r.url === url) return r;
    } else if (r.urlPrefix !== undefined) {
      const length = prefixMatchLength(r.urlPrefix, url);
      if (length > bestLength) {
        best = r;
        bestLength = length;
      }
    }
  }
  return best;
}

export function settingsOf(entry: ReceiverEntry | undefined, url: string, d: UrlDefaults): UrlSettings {
  const bodyFormat =
    entry?.bodyFormat ?? (d.envelopeUrlPrefix.some((p) => url.startsWith(p)) ? 'envelope' : d.bodyFormat);
  return {
    receiver: entry?.label,
    // A receiver without its own secret is signed with the global one(s).
    signingSecrets: entry?.signingSecrets ?? d.signingSecrets,
    headers: entry?.headers ?? NO_HEADERS,
    timeoutMs: entry?.timeoutMs ?? d.timeoutMs,
    connectTimeoutMs: entry?.connectTimeoutMs ?? d.connectTimeoutMs,
    concurrency: entry?.concurrency ?? d.concurrency,
    bodyFormat,
    maxAttempts: entry?.maxAttempts ?? d.maxAttempts,
    maxAgeMs: entry?.maxAgeMs ?? d.maxAgeMs,
    rateLimitPerSecond: entry?.rateLimitPerSecond,
  };
}

/** `settingsFor(url)`, resolved once per URL and then served from a cache. */
export function urlSettingsResolver(
  receivers: readonly ReceiverEntry[],
  defaults: UrlDefaults,
): (url: string) => UrlSettings {
  const cache = new Map<string, UrlSettings>();
  return (url) => {
    let s = cache.get(url);
    if (!s) {
      s = settingsOf(matchReceiver(receivers, url), url, defaults);
      cache.set(url, s);
    }
    return s;
  };
}

/** The global options a URL without a receivers entry (or an entry without a field) falls back to. */
export function urlDefaultsOf(config: Config): UrlDefaults {
  return {
    signingSecrets: config.signingSecret,
    timeoutMs: config.requestTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    concurrency: config.concurrencyPerUrl,
    bodyFormat: config.bodyFormat,
    envelopeUrlPrefix: config.envelopeUrlPrefix,
    maxAttempts: config.maxAttempts,
    maxAgeMs: config.maxAgeMs,
  };
}
