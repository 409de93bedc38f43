// One HTTP POST per delivery attempt, classified into delivered / retry / dead / gone. The only module
// that talks to undici. Invariants: send() never throws and always settles within ~requestTimeoutMs; at
// most maxResponseBytes of a response are read; redirects are never followed; error messages never
// carry URL credentials, the query string or the request body; the egress guard is enforced in the
// connector on the very address connected to (IP literals directly, host names in the DNS lookup), so
// a refused destination never gets a byte; TLS certificates are always verified.

import { performance } from 'node:perf_hooks';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { safeUrl } from '../safe-url.js';
import { renderBody } from './body-format.js';
import { checkLiteralHost, createGuardedLookup, EGRESS_BLOCKED_CODE, type EgressPolicy } from './egress-guard.js';
import { buildHeaders } from './headers.js';
import { parseRetryAfter } from './retry-policy.js';
import type { Signer } from './signing.js';
import { loadCaFile, trustedCas } from './tls-trust.js';
import type { AttemptError, AttemptOutcome, DeliveryAttempt } from './types.js';

/** How much of a response body is read at most (bytes); the rest is discarded with the connection. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
/** Characters of response body quoted in an error message. */
const ERROR_SNIPPET_CHARS = 200;
/** Bytes kept in memory for that quote (4 bytes per char covers any UTF-8); the rest is only counted. */
const SNIPPET_CAPTURE_BYTES = ERROR_SNIPPET_CHARS * 4;

const CODE_STATUS = 'UCW_ERR_DELIVERY_HTTP_STATUS';
const CODE_NETWORK = 'UCW_ERR_DELIVERY_NETWORK';
const CODE_TIMEOUT = 'UCW_ERR_DELIVERY_TIMEOUT';
/** A request that can never succeed as configured (bad URL, header value undici refuses). */
const CODE_REQUEST = 'UCW_ERR_DELIVERY_REQUEST';
/** The egress guard refused the destination address (configuration, not transient). */
const CODE_BLOCKED = 'UCW_ERR_DELIVERY_BLOCKED';
/** The receiver answered 410 Gone (the dispatcher pauses the URL). */
const CODE_GONE = 'UCW_ERR_DELIVERY_GONE';

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

export interface HttpSenderOptions {
  readonly connectTimeoutMs: number;
  /** Total budget of one attempt: connect, send, headers and the (bounded) body read. */
  readonly requestTimeoutMs: number;
  /** Upper bound on response bytes read; default DEFAULT_MAX_RESPONSE_BYTES. */
  readonly maxResponseBytes?: number;
  readonly connectionsPerUrl: number;
  readonly userAgent: string;
  readonly ceSource: string;
  readonly signer?: Signer | undefined;
  /** Wall clock (epoch ms) for `webhook-timestamp`; durations use the monotonic clock. */
  readonly now?: () => number;
  /** Also refuse private and loopback destinations (link-local and metadata ones always are). */
  readonly blockPrivateNetworks?: boolean;
  /** PEM file of extra CAs for https receivers; read now (UCW_ERR_CONFIG_INVALID if unusable). */
  readonly caFile?: string | undefined;
}

/** Marks an abort caused by our own total-time budget, to tell it apart from other failures. */
class AttemptTimeoutError extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'AttemptTimeoutError';
  }
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

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function isHttpUrl(raw: string): boolean {
  try {
    const { protocol } = new URL(raw);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** What one webhook URL needs per request, worked out once: parsing a URL per request is not free. */
interface Target {
  /** safeUrl() of the URL, for messages. */
  readonly where: string;
  /** undefined: not an http(s) URL. */
  readonly origin: string | undefined;
  readonly path: string;
}

export class HttpSender {
  private readonly agents = new Map<string, Agent>();
  private readonly targets = new Map<string, Target>();
  private readonly agentOptions: Agent.Options;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  private readonly ceSource: string;
  private readonly signer: Signer | undefined;
  private readonly now: () => number;
  private closing: Promise<void> | undefined;

  constructor(options: HttpSenderOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.maxResponseBytes = Math.max(1, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.userAgent = options.userAgent;
    this.ceSource = options.ceSource;
    this.signer = options.signer;
    this.now = options.now ?? Date.now;
    const policy: EgressPolicy = { blockPrivateNetworks: options.blockPrivateNetworks ?? false };
    const ca = trustedCas(options.caFile === undefined ? undefined : loadCaFile(options.caFile));
    // No redirect interceptor is composed in, so 3xx come back as-is. headersTimeout/bodyTimeout
    // are idle timers; each attempt's budget timer (class Attempt) bounds the total time.
    this.agentOptions = {
      connections: options.connectionsPerUrl,
      connect: guardedConnector(policy, {
        timeout: options.connectTimeoutMs,
        lookup: createGuardedLookup(policy),
        // Never rejectUnauthorized: false. `ca` replaces the default store, so it includes it.
        ...(ca === undefined ? {} : { ca }),
      }),
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
    };
  }

  /**
   * One keep-alive pool per webhook URL, not per origin: the dispatcher bounds concurrency per URL,
   * so a URL that hangs may hold its own connections but never those of another URL on its host.
   */
  private agentFor(url: string): Agent {
    if (this.closing) throw new Error('the sender is closed');
    let agent = this.agents.get(url);
    if (!agent) {
      agent = new Agent(this.agentOptions);
      this.agents.set(url, agent);
    }
    return agent;
  }

  private targetFor(url: string): Target {
    let target = this.targets.get(url);
    if (!target) {
      let origin: string | undefined;
      let path = '/';
      if (isHttpUrl(url)) {
        const u = new URL(url);
        origin = u.origin;
        path = `${u.pathname}${u.search}`;
      }
      target = { where: safeUrl(url), origin, path };
      this.targets.set(url, target);
    }
    return target;
  }

  async send(attempt: DeliveryAttempt): Promise<AttemptOutcome> {
    const startedAt = performance.now();
    const elapsed = (): number => Math.round(performance.now() - startedAt);
    let body = '';
    try {
      const target = this.targetFor(attempt.url);
      if (target.origin === undefined) {
        return dead(undefined, CODE_REQUEST, `webhook URL ${target.where} is not a valid http(s) URL`, elapsed());
      }

      try {
        body = renderBody(attempt.bodyFormat, attempt.body, attempt.eventId, attempt.occurredAtMs);
      } catch (err) {
        // The stored body will not change; retrying cannot help.
        return dead(undefined, CODE_REQUEST, `cannot render the ${attempt.bodyFormat} body: ${errorMessage(err)}`, elapsed());
      }
      const headers = buildHeaders({
        eventId: attempt.eventId,
        eventName: attempt.eventName,
        occurredAtMs: attempt.occurredAtMs,
        timestampSec: Math.floor(this.now() / 1000),
        body,
        signer: this.signer,
        ceSource: this.ceSource,
        userAgent: this.userAgent,
      });
      return await this.post(attempt.url, target, headers, body, elapsed);
    } catch (err) {
      // Last resort for anything unforeseen: retrying is the choice that cannot lose the event.
      const message = scrub(oneLine(`${errorName(err)}: ${errorMessage(err)}`), attempt.url, body);
      return { kind: 'retry', error: { code: CODE_NETWORK, message: `unexpected send failure: ${message}` }, durationMs: elapsed() };
    }
  }

  /** Waits for in-flight attempts (each bounded by its own timeout), then closes all connections. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.agents.values()].map((a) => a.close())).then(() => undefined);
    return this.closing;
  }

  /**
   * One request through undici's dispatch() with a handler of our own: the response body is counted
   * (and, for an error answer, its first bytes kept for the message) as it arrives, without a
   * stream, a promise or an abort signal per request (request() with those cost about a third of
   * the delivery worker's CPU in a bench of undici alone).
   */
  private post(url: string, target: Target, headers: Record<string, string>, body: string, elapsed: () => number): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const attempt = new Attempt(this, url, target, body, elapsed, resolve);
      try {
        this.agentFor(url).dispatch({ origin: target.origin!, path: target.path, method: 'POST', headers, body }, attempt);
      } catch (err) {
        attempt.onResponseError(undefined, err as Error);
      }
    });
  }

  /** The outcome of an answer: `status` with at most SNIPPET_CAPTURE_BYTES of its body. */
  classifyAnswer(
    status: number,
    retryAfterHeader: string | undefined,
    locationHeader: string | undefined,
    sample: string,
    url: string,
    body: string,
    durationMs: number,
  ): AttemptOutcome {
    if (status >= 200 && status < 300) return { kind: 'delivered', status, durationMs };
    if (status === 410) {
      return { kind: 'gone', status, error: { code: CODE_GONE, message: 'receiver answered 410 Gone' }, durationMs };
    }
    const snippet = scrub(oneLine(sample), url, body);
    const quoted = snippet === '' ? '' : `: ${snippet}`;
    if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
      const retryAfterMs = parseRetryAfter(retryAfterHeader, this.now());
      const error: AttemptError = { code: CODE_STATUS, message: `receiver answered ${status}${quoted}` };
      return retryAfterMs === undefined ? { kind: 'retry', status, error, durationMs } : { kind: 'retry', status, retryAfterMs, error, durationMs };
    }
    if (status >= 300 && status < 400) {
      const where = locationHeader === undefined ? '' : ` (Location: ${this.safeLocation(locationHeader, url)})`;
      return dead(status, CODE_STATUS, `receiver answered ${status} redirect${where}; redirects are not followed, update the webhook URL`, durationMs);
    }
    return dead(status, CODE_STATUS, `receiver answered ${status}; not retried${quoted}`, durationMs);
  }

  get budgetMs(): number {
    return this.requestTimeoutMs;
  }

  get responseLimit(): number {
    return this.maxResponseBytes;
  }

  private safeLocation(location: string, base: string): string {
    try {
      return safeUrl(new URL(location, base).toString());
    } catch {
      return '[unparsable location]';
    }
  }

  classifyError(
    err: unknown,
    abortedByBudget: boolean,
    where: string,
    url: string,
    body: string,
    durationMs: number,
  ): AttemptOutcome {
    const code = errorCode(err);
    const detail = scrub(oneLine(`${code ?? errorName(err)}: ${errorMessage(err)}`), url, body);

    if (code === EGRESS_BLOCKED_CODE) {
      // Where the URL points is configuration: waiting will not make the address acceptable.
      return dead(undefined, CODE_BLOCKED, `${where}: not sent, ${scrub(oneLine(errorMessage(err)), url, body)}`, durationMs);
    }
    if (abortedByBudget || (code !== undefined && TIMEOUT_ERROR_CODES.has(code))) {
      const what = abortedByBudget ? `no answer within ${this.requestTimeoutMs} ms` : `timed out (${detail})`;
      return retry(CODE_TIMEOUT, `${where}: ${what}`, durationMs);
    }
    if ((code !== undefined && code.startsWith('HPE_')) || errorName(err) === 'HTTPParserError') {
      return retry(CODE_NETWORK, `${where}: receiver sent an invalid HTTP response (${detail})`, durationMs);
    }
    if (this.closing !== undefined) {
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
}

/**
 * One attempt as an undici dispatch handler. The status decides, once it has come: a body that fails,
 * runs past maxResponseBytes or past the budget after it is cut (closing that connection) and the
 * status stands; a 2xx body is counted and discarded, an error answer's first bytes kept for the
 * message. The total budget (requestTimeoutMs) is a timer that aborts the request; an abort before
 * the status is a timeout. Settles exactly once.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private retryAfter: string | undefined;
  private location: string | undefined;
  private bytesRead = 0;
  private kept: Buffer[] | undefined;
  private keptBytes = 0;
  private timedOut = false;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sender: HttpSender,
    private readonly url: string,
    private readonly target: Target,
    private readonly body: string,
    private readonly elapsed: () => number,
    private readonly resolve: (outcome: AttemptOutcome) => void,
  ) {
    // The error is built only on timeout: an Error captures a stack, too dear for every request.
    this.timer = setTimeout(() => this.onBudgetSpent(), sender.budgetMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The budget ran out while the request waited for a connection: it is not sent.
    if (this.settled) controller.abort(new AttemptTimeoutError(this.sender.budgetMs));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx (e.g. 100 Continue) come before the final status: only the last one counts.
    if (statusCode < 200) return;
    this.status = statusCode;
    this.retryAfter = headerValue(headers['retry-after']);
    this.location = headerValue(headers.location);
    if (statusCode >= 300) this.kept = [];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    const limit = this.sender.responseLimit;
    const take = Math.min(chunk.length, limit - this.bytesRead);
    if (this.kept && this.keptBytes < SNIPPET_CAPTURE_BYTES) {
      const keep = chunk.subarray(0, Math.min(take, SNIPPET_CAPTURE_BYTES - this.keptBytes));
      this.kept.push(keep);
      this.keptBytes += keep.length;
    }
    this.bytesRead += take;
    if (take < chunk.length) {
      // Past the limit: the rest is not drained, the connection is dropped instead.
      this.answer();
      controller.abort(new Error('response body past maxResponseBytes'));
    }
  }

  onResponseEnd(): void {
    this.answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    // A reset, body timeout or our abort mid-body: the status that came stays in charge.
    if (this.status !== 0) {
      this.answer();
      return;
    }
    this.settle(this.sender.classifyError(err, this.timedOut, this.target.where, this.url, this.body, this.elapsed()));
  }

  private onBudgetSpent(): void {
    if (this.settled) return;
    this.timedOut = true;
    const reason = new AttemptTimeoutError(this.sender.budgetMs);
    if (this.status !== 0) {
      this.answer();
    } else {
      this.settle(this.sender.classifyError(reason, true, this.target.where, this.url, this.body, this.elapsed()));
    }
    this.controller?.abort(reason);
  }

  private answer(): void {
    if (this.settled) return;
    const sample = this.kept ? Buffer.concat(this.kept).toString('utf8') : '';
    this.settle(this.sender.classifyAnswer(this.status, this.retryAfter, this.location, sample, this.url, this.body, this.elapsed()));
  }

  private settle(outcome: AttemptOutcome): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }
}

function tlsAdvice(code: string): string {
  if (TLS_NAME_CODES.has(code)) return "the receiver's certificate does not name this host; fix the certificate or the webhook URL";
  if (TLS_VALIDITY_CODES.has(code)) return "the receiver's certificate is expired or not yet valid; renew it (and check this machine's clock)";
  return "the receiver's certificate is not signed by a trusted CA; for a private or self-signed CA pass its certificate with --ca-file";
}

type Connector = buildConnector.connector;

/**
 * undici's connector with the egress guard in front: an IP-literal host is judged here (net.connect
 * does not call `lookup` for literals), a host name inside `lookup` on the addresses actually used.
 */
function guardedConnector(policy: EgressPolicy, options: buildConnector.BuildOptions): Connector {
  const base = buildConnector(options);
  return (opts, callback) => {
    const refusal = checkLiteralHost(opts.hostname, policy);
    if (refusal !== undefined) {
      process.nextTick(callback, refusal, null);
      return;
    }
    return base(opts, callback);
  };
}

function retry(code: string, message: string, durationMs: number): AttemptOutcome {
  return { kind: 'retry', error: { code, message }, durationMs };
}

function dead(status: number | undefined, code: string, message: string, durationMs: number): AttemptOutcome {
  const error: AttemptError = { code, message };
  return status === undefined ? { kind: 'dead', error, durationMs } : { kind: 'dead', status, error, durationMs };
}
