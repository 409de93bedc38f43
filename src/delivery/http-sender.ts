// One HTTP POST per delivery attempt; classify.ts says what its answer or failure means. The only
// module that talks to undici. Invariants: send() never throws and always settles within
// ~requestTimeoutMs; at most maxResponseBytes of a response are read; redirects are never followed; the
// egress guard is enforced in the connector on the very address connected to (IP literals directly,
// host names in the DNS lookup), so a refused destination never gets a byte; TLS certificates are
// always verified.

import { performance } from 'node:perf_hooks';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { safeUrl } from '../safe-url.js';
import { renderBody } from './body-format.js';
import {
  classifyAnswer,
  classifyError,
  errorMessage,
  SNIPPET_CAPTURE_BYTES,
  unexpectedFailure,
  unsendable,
} from './classify.js';
import { checkLiteralHost, createGuardedLookup, type EgressPolicy } from './egress-guard.js';
import { buildHeaders } from './headers.js';
import type { Signer } from './signing.js';
import { loadCaFile, trustedCas } from './tls-trust.js';
import type { AttemptOutcome, DeliveryAttempt } from './types.js';

/** How much of a response body is read at most (bytes); the rest is discarded with the connection. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

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
  /**
   * A URL's own settings (its receivers entry), asked once per URL; what it leaves out comes from the
   * options above. Undefined: every URL gets the options above.
   */
  readonly profileFor?: ((url: string) => SendProfile) | undefined;
}

/** What one URL's requests are sent with, when its receivers entry sets it. */
export interface SendProfile {
  /** Present and undefined: sent unsigned (no secret anywhere); absent: the sender's signer. */
  readonly signer?: Signer | undefined;
  /** Static extra headers (validated at start: none replaces a protocol header). Never logged. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly requestTimeoutMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly connections?: number | undefined;
}

/** Marks an abort caused by our own total-time budget, to tell it apart from other failures. */
class AttemptTimeoutError extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'AttemptTimeoutError';
  }
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
  readonly signer: Signer | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Total budget of one attempt (ms). */
  readonly budgetMs: number;
  readonly agentOptions: Agent.Options;
}

export class HttpSender {
  private readonly agents = new Map<string, Agent>();
  /** Pools let go by releasePools() and still closing. */
  private readonly released = new Set<Promise<void>>();
  private readonly targets = new Map<string, Target>();
  private readonly connectTimeoutMs: number;
  private readonly connections: number;
  private readonly policy: EgressPolicy;
  private readonly ca: string[] | undefined;
  private readonly profileFor: ((url: string) => SendProfile) | undefined;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  private readonly ceSource: string;
  private readonly signer: Signer | undefined;
  /** Wall clock (epoch ms): `webhook-timestamp`, and a Retry-After date. */
  readonly now: () => number;
  private closing: Promise<void> | undefined;

  constructor(options: HttpSenderOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.maxResponseBytes = Math.max(1, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.userAgent = options.userAgent;
    this.ceSource = options.ceSource;
    this.signer = options.signer;
    this.now = options.now ?? Date.now;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.connections = options.connectionsPerUrl;
    this.profileFor = options.profileFor;
    this.policy = { blockPrivateNetworks: options.blockPrivateNetworks ?? false };
    this.ca = trustedCas(options.caFile === undefined ? undefined : loadCaFile(options.caFile));
  }

  /** A URL's agent options: its own connect timeout, connections and request budget, else the defaults. */
  private agentOptionsOf(profile: SendProfile | undefined): Agent.Options {
    const requestTimeoutMs = profile?.requestTimeoutMs ?? this.requestTimeoutMs;
    const { policy, ca } = this;
    // No redirect interceptor is composed in, so 3xx come back as-is. headersTimeout/bodyTimeout
    // are idle timers; each attempt's budget timer (class Attempt) bounds the total time.
    return {
      connections: profile?.connections ?? this.connections,
      connect: guardedConnector(policy, {
        timeout: profile?.connectTimeoutMs ?? this.connectTimeoutMs,
        lookup: createGuardedLookup(policy),
        // Never rejectUnauthorized: false. `ca` replaces the default store, so it includes it.
        ...(ca === undefined ? {} : { ca }),
      }),
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    };
  }

  /**
   * One keep-alive pool per webhook URL, not per origin: the scheduler bounds concurrency per URL,
   * so a URL that hangs may hold its own connections but never those of another URL on its host.
   */
  private agentFor(url: string, target: Target): Agent {
    if (this.closing) throw new Error('the sender is closed');
    let agent = this.agents.get(url);
    if (!agent) {
      agent = new Agent(target.agentOptions);
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
      const profile = this.profileFor?.(url);
      target = {
        where: safeUrl(url),
        origin,
        path,
        // A profile's `signer: undefined` means unsigned; a profile without the field, the default signer.
        signer: profile && 'signer' in profile ? profile.signer : this.signer,
        headers: profile?.headers,
        budgetMs: profile?.requestTimeoutMs ?? this.requestTimeoutMs,
        agentOptions: this.agentOptionsOf(profile),
      };
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
      if (target.origin === undefined)
        return unsendable(`webhook URL ${target.where} is not a valid http(s) URL`, elapsed());

      try {
        body = renderBody(attempt.bodyFormat, attempt.body, attempt.eventId, attempt.occurredAtMs);
      } catch (err) {
        // The stored body will not change; retrying cannot help.
        return unsendable(`cannot render the ${attempt.bodyFormat} body: ${errorMessage(err)}`, elapsed());
      }
      const headers = buildHeaders({
        eventId: attempt.eventId,
        eventName: attempt.eventName,
        occurredAtMs: attempt.occurredAtMs,
        timestampSec: Math.floor(this.now() / 1000),
        body,
        signer: target.signer,
        ceSource: this.ceSource,
        userAgent: this.userAgent,
      });
      if (target.headers) Object.assign(headers, target.headers);
      return await this.post(attempt.url, target, headers, body, elapsed);
    } catch (err) {
      return unexpectedFailure({ error: err, url: attempt.url, sentBody: body, durationMs: elapsed() });
    }
  }

  /** Waits for in-flight attempts (each bounded by its own timeout), then closes all connections. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...[...this.agents.values()].map((a) => a.close()), ...this.released]).then(
      () => undefined,
    );
    return this.closing;
  }

  /**
   * Lets go of every URL's pool (idle-trim.ts: after a burst, once idle): their sockets and request
   * state go; requests still running finish first; the next request of a URL opens a new pool.
   */
  releasePools(): void {
    for (const agent of this.agents.values()) {
      const done = agent.close().finally(() => this.released.delete(done));
      this.released.add(done);
    }
    this.agents.clear();
  }

  /**
   * One request through undici's dispatch() with a handler of our own: the response body is counted
   * (and, for an error answer, its first bytes kept for the message) as it arrives, without a
   * stream, a promise or an abort signal per request, which cost CPU on the hot path.
   */
  private post(
    url: string,
    target: Target,
    headers: Record<string, string>,
    body: string,
    elapsed: () => number,
  ): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const attempt = new Attempt(this, url, target, body, elapsed, resolve);
      try {
        this.agentFor(url, target).dispatch(
          { origin: target.origin!, path: target.path, method: 'POST', headers, body },
          attempt,
        );
      } catch (err) {
        attempt.onResponseError(undefined, err as Error);
      }
    });
  }

  get responseLimit(): number {
    return this.maxResponseBytes;
  }

  get isClosing(): boolean {
    return this.closing !== undefined;
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
    this.timer = setTimeout(() => this.onBudgetSpent(), target.budgetMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The budget ran out while the request waited for a connection: it is not sent.
    if (this.settled) controller.abort(new AttemptTimeoutError(this.target.budgetMs));
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
    this.settle(this.failed(err));
  }

  private onBudgetSpent(): void {
    if (this.settled) return;
    this.timedOut = true;
    const reason = new AttemptTimeoutError(this.target.budgetMs);
    if (this.status !== 0) {
      this.answer();
    } else {
      this.settle(this.failed(reason));
    }
    this.controller?.abort(reason);
  }

  private answer(): void {
    if (this.settled) return;
    const sample = this.kept ? Buffer.concat(this.kept).toString('utf8') : '';
    this.settle(
      classifyAnswer({
        status: this.status,
        retryAfter: this.retryAfter,
        location: this.location,
        sample,
        url: this.url,
        sentBody: this.body,
        durationMs: this.elapsed(),
        nowMs: this.sender.now(),
      }),
    );
  }

  private failed(error: unknown): AttemptOutcome {
    return classifyError({
      error,
      abortedByBudget: this.timedOut,
      budgetMs: this.target.budgetMs,
      closing: this.sender.isClosing,
      where: this.target.where,
      url: this.url,
      sentBody: this.body,
      durationMs: this.elapsed(),
    });
  }

  private settle(outcome: AttemptOutcome): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }
}

type Connector = buildConnector.connector;

/**
 * undici's connector with the egress guard in front: an IP-literal host is judged here (net.connect
 * does not call `lookup` for literals), a host name inside `lookup` on the addresses actually used.
 */
export function guardedConnector(policy: EgressPolicy, options: buildConnector.BuildOptions): Connector {
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
