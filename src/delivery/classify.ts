// What one HTTP attempt's answer or failure means for its delivery: delivered / retry / dead / gone.
// Pure: the facts come in one object (the clock reading included), an outcome comes out.
// Invariant: no message built here carries URL credentials, the query string or the request body,
// and a response body is quoted on one line, at most ERROR_SNIPPET_CHARS long.

import type { ErrorCode } from '../errors.js';
import { safeUrl } from '../safe-url.js';
import { EGRESS_BLOCKED_CODE } from './egress-guard.js';
import { parseRetryAfter } from './retry-policy.js';
import type { AttemptError, AttemptOutcome } from './types.js';

/** Characters of response body quoted in an error message. */
const ERROR_SNIPPET_CHARS = 200;
/** Bytes of an error answer's body worth keeping for that quote (4 bytes per char covers any UTF-8). */
export const SNIPPET_CAPTURE_BYTES = ERROR_SNIPPET_CHARS * 4;

const CODE_STATUS = 'UCW_ERR_DELIVERY_HTTP_STATUS' satisfies ErrorCode;
const CODE_NETWORK = 'UCW_ERR_DELIVERY_NETWORK' satisfies ErrorCode;
const CODE_TIMEOUT = 'UCW_ERR_DELIVERY_TIMEOUT' satisfies ErrorCode;
/** A request that can never succeed as configured (bad URL, header value undici refuses). */
const CODE_REQUEST = 'UCW_ERR_DELIVERY_REQUEST' satisfies ErrorCode;
/** The egress guard refused the destination address (configuration, not transient). */
const CODE_BLOCKED = 'UCW_ERR_DELIVERY_BLOCKED' satisfies ErrorCode;
/** The receiver answered 410 Gone (the scheduler pauses the URL). */
const CODE_GONE = 'UCW_ERR_DELIVERY_GONE' satisfies ErrorCode;

/** Certificate verification failures (OpenSSL verify results as Node reports them). */
const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const TLS_VALIDITY_CODES: ReadonlySet<string> = new Set([
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);
const TLS_NAME_CODES: ReadonlySet<string> = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

/** Statuses worth retrying besides 5xx: Request Timeout and Too Many Requests. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429]);

const TIMEOUT_ERROR_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** A final status came back (the body may have been cut short: the status decides). */
export interface Answer {
  readonly status: number;
  /** The Retry-After header, as sent. */
  readonly retryAfter: string | undefined;
  /** The Location header, as sent. */
  readonly location: string | undefined;
  /** The first bytes of the response body (at most SNIPPET_CAPTURE_BYTES), decoded. */
  readonly sample: string;
  /** The webhook URL and the body sent: both are scrubbed out of any message. */
  readonly url: string;
  readonly sentBody: string;
  readonly durationMs: number;
  /** Wall clock (epoch ms) when the answer came, for a Retry-After date. */
  readonly nowMs: number;
}

/** No final status came back. */
export interface Failure {
  readonly error: unknown;
  /** Our own total-time budget ran out (the request was aborted for it). */
  readonly abortedByBudget: boolean;
  readonly budgetMs: number;
  /** The sender is closing: a failure is most likely its connections being closed. */
  readonly closing: boolean;
  /** safeUrl() of the URL, to start messages with. */
  readonly where: string;
  readonly url: string;
  readonly sentBody: string;
  readonly durationMs: number;
}

export function classifyAnswer(a: Answer): AttemptOutcome {
  const { status, durationMs } = a;
  if (status >= 200 && status < 300) return { kind: 'delivered', status, durationMs };
  if (status === 410) {
    return { kind: 'gone', status, error: { code: CODE_GONE, message: 'receiver answered 410 Gone' }, durationMs };
  }
  const snippet = scrub(oneLine(a.sample), a.url, a.sentBody);
  const quoted = snippet === '' ? '' : `: ${snippet}`;
  if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
    const retryAfterMs = parseRetryAfter(a.retryAfter, a.nowMs);
    const error: AttemptError = { code: CODE_STATUS, message: `receiver answered ${status}${quoted}` };
    return retryAfterMs === undefined
      ? { kind: 'retry', status, error, durationMs }
      : { kind: 'retry', status, retryAfterMs, error, durationMs };
  }
  if (status >= 300 && status < 400) {
    const where = a.location === undefined ? '' : ` (Location: ${safeLocation(a.location, a.url)})`;
    return dead(
      status,
      CODE_STATUS,
      `receiver answered ${status} redirect${where}; redirects are not followed, update the webhook URL`,
      durationMs,
    );
  }
  return dead(status, CODE_STATUS, `receiver answered ${status}; not retried${quoted}`, durationMs);
}

export function classifyError(f: Failure): AttemptOutcome {
  const { error: err, where, url, sentBody, durationMs } = f;
  const code = errorCode(err);
  const detail = scrub(oneLine(`${code ?? errorName(err)}: ${errorMessage(err)}`), url, sentBody);

  if (code === EGRESS_BLOCKED_CODE) {
    // Where the URL points is configuration: waiting will not make the address acceptable.
    return dead(
      undefined,
      CODE_BLOCKED,
      `${where}: not sent, ${scrub(oneLine(errorMessage(err)), url, sentBody)}`,
      durationMs,
    );
  }
  if (f.abortedByBudget || (code !== undefined && TIMEOUT_ERROR_CODES.has(code))) {
    const what = f.abortedByBudget ? `no answer within ${f.budgetMs} ms` : `timed out (${detail})`;
    return retry(CODE_TIMEOUT, `${where}: ${what}`, durationMs);
  }
  if ((code !== undefined && code.startsWith('HPE_')) || errorName(err) === 'HTTPParserError') {
    return retry(CODE_NETWORK, `${where}: receiver sent an invalid HTTP response (${detail})`, durationMs);
  }
  if (f.closing) {
    return retry(CODE_NETWORK, `${where}: not sent, the sender is shutting down`, durationMs);
  }
  if (code === 'UND_ERR_INVALID_ARG') {
    // undici refused the request itself (e.g. a header value with a newline): no retry can fix that.
    return dead(undefined, CODE_REQUEST, `${where}: request rejected before sending (${detail})`, durationMs);
  }
  if (code !== undefined && (TLS_TRUST_CODES.has(code) || TLS_VALIDITY_CODES.has(code) || TLS_NAME_CODES.has(code))) {
    return retry(CODE_NETWORK, `${where}: TLS verification failed, ${tlsAdvice(code)} (${detail})`, durationMs);
  }
  // Refused, reset, closed socket, DNS, closed sender, anything else: the network may recover.
  return retry(CODE_NETWORK, `${where}: could not reach the receiver (${detail})`, durationMs);
}

/** A request that cannot be built as configured (not an http(s) URL, a body that cannot render): never retried. */
export function unsendable(message: string, durationMs: number): AttemptOutcome {
  return dead(undefined, CODE_REQUEST, message, durationMs);
}

/** Anything unforeseen while sending: retrying is the choice that cannot lose the event. */
export function unexpectedFailure(f: {
  readonly error: unknown;
  readonly url: string;
  readonly sentBody: string;
  readonly durationMs: number;
}): AttemptOutcome {
  const message = scrub(oneLine(`${errorName(f.error)}: ${errorMessage(f.error)}`), f.url, f.sentBody);
  return retry(CODE_NETWORK, `unexpected send failure: ${message}`, f.durationMs);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** One line, no control characters, at most ERROR_SNIPPET_CHARS. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
  return flat.length > ERROR_SNIPPET_CHARS ? `${flat.slice(0, ERROR_SNIPPET_CHARS)}...` : flat;
}

/** Removes anything secret-bearing of `url` that a third-party message might echo. */
function scrub(text: string, url: string, sentBody: string): string {
  let out = text;
  try {
    const u = new URL(url);
    for (const secret of [url, u.href, u.search, u.username, u.password]) {
      // Very short fragments (e.g. "?a") would mangle ordinary words; they also reveal little.
      if (secret.length >= 3) out = out.split(secret).join('[redacted]');
    }
  } catch {
    out = out.split(url).join('[redacted]');
  }
  // A receiver echoing our whole payload back must not leak it into logs via the error message.
  if (sentBody.length > 0 && out.includes(sentBody)) out = out.split(sentBody).join('[request body]');
  return out;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects (several addresses) fail with an AggregateError of per-address errors.
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function safeLocation(location: string, base: string): string {
  try {
    return safeUrl(new URL(location, base).toString());
  } catch {
    return '[unparsable location]';
  }
}

function tlsAdvice(code: string): string {
  if (TLS_NAME_CODES.has(code))
    return "the receiver's certificate does not name this host; fix the certificate or the webhook URL";
  if (TLS_VALIDITY_CODES.has(code))
    return "the receiver's certificate is expired or not yet valid; renew it (and check this machine's clock)";
  return (
    "the receiver's certificate is not signed by a trusted CA; for " +
    'a private or self-signed CA pass its certificate with --ca-file'
  );
}

function retry(code: ErrorCode, message: string, durationMs: number): AttemptOutcome {
  return { kind: 'retry', error: { code, message }, durationMs };
}

function dead(status: number | undefined, code: ErrorCode, message: string, durationMs: number): AttemptOutcome {
  const error: AttemptError = { code, message };
  return status === undefined ? { kind: 'dead', error, durationMs } : { kind: 'dead', status, error, durationMs };
}
