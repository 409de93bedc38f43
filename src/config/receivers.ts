// The `receivers` section of the config file: per-receiver settings (secrets, rate limit, timeouts,
// concurrency, static headers, body format, retry budget) matched to registered URLs by an exact
// `url` or a `urlPrefix`. The zod schema checks the shape; resolve() then reads secrets and header
// values given as `{ env: NAME }` or `{ file: PATH }` references. Invariant: no message, warning or
// detail built here carries a secret or a header value, only paths such as receivers[0].headers.X.

import { z } from 'zod';
import { secretKeyBytes, createSigner } from '../delivery/signing.js';
import { MAX_TIMER_MS } from '../safe-timer.js';
import { readSecretFile, type SecretFileWarning } from './secret-file.js';

/** Delays the delivery schedules (see config.ts): at most 30 days. */
const MAX_DELAY_MS = 30 * 24 * 3_600_000;
/** Secrets of fewer key bytes are accepted with a warning (HMAC-SHA256 wants 32; Svix issues 24). */
export const MIN_SECRET_BYTES = 24;

/**
 * Headers the bridge itself sets or the HTTP layer owns: a static header may not replace them
 * (compared case-insensitively). `webhook-*` and `ce-*` are the signature and CloudEvents headers.
 */
const PROTOCOL_HEADER_PREFIXES = ['webhook-', 'ce-'] as const;
const PROTOCOL_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);
/** RFC 9110 token characters. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why `name` cannot be a static header, or undefined when it can. */
export function forbiddenHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (!HEADER_NAME_RE.test(name)) return 'is not a valid HTTP header name';
  if (PROTOCOL_HEADERS.has(lower) || PROTOCOL_HEADER_PREFIXES.some((p) => lower.startsWith(p)))
    return `would override the protocol header ${lower}; the bridge sets it itself`;
  return undefined;
}

/** Whether `text` parses as an http: or https: URL (what a receivers entry may match). */
function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

const envRef = z.strictObject({ env: z.string().min(1) });
const fileRef = z.strictObject({ file: z.string().min(1) });
/** A secret or header value: written out, or taken from an environment variable or a file. */
const valueRef = z.union([z.string().min(1), envRef, fileRef]);
export type ValueRef = z.output<typeof valueRef>;

const headersSchema = z.record(z.string(), valueRef).superRefine((headers, ctx) => {
  const seen = new Map<string, string>();
  for (const name of Object.keys(headers)) {
    const why = forbiddenHeader(name);
    if (why) ctx.addIssue({ code: 'custom', path: [name], message: why });
    const lower = name.toLowerCase();
    const first = seen.get(lower);
    if (first !== undefined)
      ctx.addIssue({ code: 'custom', path: [name], message: `is ${first} again (header names ignore case)` });
    seen.set(lower, name);
  }
});

export const receiverSchema = z
  .strictObject({
    /** Shown in logs and `config print` instead of the URL (which may carry a token). */
    name: z.string().min(1).max(100).optional(),
    url: z.string().min(1).optional(),
    urlPrefix: z.string().min(1).optional(),
    signingSecrets: z.array(valueRef).min(1).optional(),
    signingSecretsFile: z.string().min(1).optional(),
    rateLimitPerSecond: z.number().positive().max(100_000).optional(),
    timeoutMs: z.number().int().min(1).max(MAX_TIMER_MS).optional(),
    connectTimeoutMs: z.number().int().min(1).max(MAX_TIMER_MS).optional(),
    concurrency: z.number().int().min(1).max(1024).optional(),
    headers: headersSchema.optional(),
    bodyFormat: z.enum(['ucontact', 'envelope']).optional(),
    maxAttempts: z.number().int().min(1).optional(),
    maxAgeMs: z.number().int().min(1).max(MAX_DELAY_MS).optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.url === undefined) === (r.urlPrefix === undefined))
      ctx.addIssue({ code: 'custom', path: [], message: 'needs exactly one of url or urlPrefix' });
    // Matched parsed (delivery/url-settings.ts): a text that is no URL would silently match nothing.
    if (r.url !== undefined && !isHttpUrl(r.url))
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'is not an http(s) URL' });
    if (r.urlPrefix !== undefined && !isHttpUrl(r.urlPrefix))
      ctx.addIssue({ code: 'custom', path: ['urlPrefix'], message: 'is not an http(s) URL' });
    if (r.signingSecrets && r.signingSecretsFile)
      ctx.addIssue({ code: 'custom', path: ['signingSecretsFile'], message: 'is given together with signingSecrets' });
  });

export const receiversSchema = z.array(receiverSchema).default([]);

/**
 * Entries that match the same URLs as an earlier one, or reuse its name. Read from the raw section,
 * so they are listed even when other entries have problems (zod skips a list's checks then).
 */
export function duplicateProblems(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const problems: string[] = [];
  const matches = new Map<string, number>();
  const names = new Map<string, number>();
  raw.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object') return;
    const { url, urlPrefix, name } = r as Record<string, unknown>;
    const match =
      typeof url === 'string' ? `url ${url}` : typeof urlPrefix === 'string' ? `urlPrefix ${urlPrefix}` : '';
    const first = matches.get(match);
    if (match !== '' && first !== undefined)
      problems.push(`receivers[${i}]: matches the same URLs as receivers[${first}]`);
    else if (match !== '') matches.set(match, i);
    if (typeof name === 'string') {
      const same = names.get(name);
      if (same !== undefined) problems.push(`receivers[${i}].name: is receivers[${same}]'s name too`);
      else names.set(name, i);
    }
  });
  return problems;
}

export type RawReceiver = z.output<typeof receiverSchema>;

/** Where a resolved secret or header value came from (shown by `config print`; never the value). */
export type RefOrigin = 'file' | `env:${string}` | `file:${string}`;

/** One receivers entry with its references read: what the scheduler and the worker use. */
export interface ReceiverEntry {
  /** Its position in the config file's list. */
  readonly index: number;
  /** `name`, or receivers[index]: safe in logs and metrics. */
  readonly label: string;
  readonly url?: string | undefined;
  readonly urlPrefix?: string | undefined;
  readonly signingSecrets?: readonly string[] | undefined;
  readonly secretOrigins?: readonly RefOrigin[] | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly headerOrigins?: Readonly<Record<string, RefOrigin>> | undefined;
  readonly rateLimitPerSecond?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly bodyFormat?: 'ucontact' | 'envelope' | undefined;
  readonly maxAttempts?: number | undefined;
  readonly maxAgeMs?: number | undefined;
}

/** A secret accepted with a warning: shorter than MIN_SECRET_BYTES (its path, never its value). */
export interface ShortSecretWarning {
  readonly code: 'UCW_WARN_CONFIG_SHORT_SECRET';
  readonly path: string;
  readonly bytes: number;
}

export interface ResolveResult {
  readonly receivers: ReceiverEntry[];
  /** Problems as `path: message` lines. */
  readonly problems: string[];
}

/** `receivers[0].headers.Authorization` from a zod-style path. */
export function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

interface RefContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly problems: string[];
  readonly onWarning: ((w: SecretFileWarning) => void) | undefined;
}

/** The text a reference stands for, or undefined (with a problem) when it cannot be read. */
function readRef(ref: ValueRef, path: string, ctx: RefContext): { value: string; origin: RefOrigin } | undefined {
  if (typeof ref === 'string') return { value: ref, origin: 'file' };
  if ('env' in ref) {
    const value = ctx.env[ref.env];
    if (value === undefined || value === '') {
      ctx.problems.push(`${path}: environment variable ${ref.env} is not set or empty`);
      return undefined;
    }
    return { value, origin: `env:${ref.env}` };
  }
  try {
    const value = readSecretFile(ref.file, ctx.onWarning).replace(/\r?\n+$/, '');
    if (value === '') {
      ctx.problems.push(`${path}: file ${ref.file} is empty`);
      return undefined;
    }
    return { value, origin: `file:${ref.file}` };
  } catch (err) {
    ctx.problems.push(`${path}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Checks a secret is usable (same rules as --signing-secret) and reports a short one. */
function checkSecret(secret: string, path: string, ctx: RefContext, warn: (w: ShortSecretWarning) => void): boolean {
  try {
    createSigner([secret]);
  } catch (err) {
    // The signer's message names the secret by position only, never by value.
    ctx.problems.push(`${path}: ${(err as Error).message.replace(/signing secret #1 /, '')}`);
    return false;
  }
  const bytes = secretKeyBytes(secret);
  if (bytes < MIN_SECRET_BYTES) warn({ code: 'UCW_WARN_CONFIG_SHORT_SECRET', path, bytes });
  return true;
}

/** Short secrets among the global --signing-secret ones (warned like those of receivers). */
export function shortSecretWarnings(secrets: readonly string[], path: string): ShortSecretWarning[] {
  const out: ShortSecretWarning[] = [];
  secrets.forEach((s, i) => {
    let bytes: number;
    try {
      bytes = secretKeyBytes(s);
    } catch {
      return; // An unusable secret is refused elsewhere, with its own error.
    }
    if (bytes < MIN_SECRET_BYTES) out.push({ code: 'UCW_WARN_CONFIG_SHORT_SECRET', path: `${path}[${i}]`, bytes });
  });
  return out;
}

/** Reads every reference of the parsed entries; problems carry their path. */
export function resolveReceivers(
  raw: readonly RawReceiver[],
  env: Readonly<Record<string, string | undefined>>,
  onWarning?: (w: SecretFileWarning | ShortSecretWarning) => void,
): ResolveResult {
  const problems: string[] = [];
  const ctx: RefContext = { env, problems, onWarning };
  const warn = (w: ShortSecretWarning): void => onWarning?.(w);
  const receivers = raw.map((r, index): ReceiverEntry => {
    const at = `receivers[${index}]`;
    let signingSecrets: string[] | undefined;
    let secretOrigins: RefOrigin[] | undefined;
    const refs: Array<{ ref: ValueRef; path: string }> = [];
    if (r.signingSecrets) r.signingSecrets.forEach((ref, j) => refs.push({ ref, path: `${at}.signingSecrets[${j}]` }));
    if (r.signingSecretsFile) {
      try {
        const lines = readSecretFile(r.signingSecretsFile, onWarning)
          .split('\n')
          .map((l) => l.replace(/\r$/, ''))
          .filter((l) => l !== '');
        if (lines.length === 0) problems.push(`${at}.signingSecretsFile: file ${r.signingSecretsFile} holds no secret`);
        lines.forEach((line, j) => refs.push({ ref: line, path: `${at}.signingSecretsFile line ${j + 1}` }));
      } catch (err) {
        problems.push(`${at}.signingSecretsFile: ${(err as Error).message}`);
      }
    }
    if (refs.length > 0) {
      signingSecrets = [];
      secretOrigins = [];
      for (const { ref, path } of refs) {
        const got = readRef(ref, path, ctx);
        if (!got || !checkSecret(got.value, path, ctx, warn)) continue;
        signingSecrets.push(got.value);
        secretOrigins.push(r.signingSecretsFile ? `file:${r.signingSecretsFile}` : got.origin);
      }
    }
    let headers: Record<string, string> | undefined;
    let headerOrigins: Record<string, RefOrigin> | undefined;
    if (r.headers) {
      headers = {};
      headerOrigins = {};
      for (const [name, ref] of Object.entries(r.headers)) {
        const path = `${at}.headers.${name}`;
        const got = readRef(ref, path, ctx);
        if (!got) continue;
        if (/[\r\n\0]/.test(got.value)) {
          problems.push(`${path}: the value holds a line break or NUL`);
          continue;
        }
        headers[name] = got.value;
        headerOrigins[name] = got.origin;
      }
    }
    return {
      index,
      label: r.name ?? at,
      url: r.url,
      urlPrefix: r.urlPrefix,
      signingSecrets,
      secretOrigins,
      headers,
      headerOrigins,
      rateLimitPerSecond: r.rateLimitPerSecond,
      timeoutMs: r.timeoutMs,
      connectTimeoutMs: r.connectTimeoutMs,
      concurrency: r.concurrency,
      bodyFormat: r.bodyFormat,
      maxAttempts: r.maxAttempts,
      maxAgeMs: r.maxAgeMs,
    };
  });
  return { receivers, problems };
}
