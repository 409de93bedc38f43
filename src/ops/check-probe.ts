// `check --probe`: whether each registered URL answers. One HEAD request per URL through the
// bridge's own guarded connector (the egress guard, TLS trust), with a short total budget. Any HTTP
// answer means reachable (its status is shown); a refusal, reset, timeout or blocked address is a
// WARN classified as a delivery would be (classify.ts), never with the URL's query or credentials.

import type * as Undici from 'undici';
import type { CheckResult } from '../check-result.js';
import { CODES, type ErrorCode } from '../error-codes.js';
import { classifyError } from '../delivery/classify.js';
import { createGuardedLookup, type EgressPolicy } from '../delivery/egress-guard.js';
import { loadCaFile, trustedCas } from '../delivery/tls-trust.js';
import { safeUrl } from '../safe-url.js';

/** What to do when a probe fails, where the delivery hint (about retries and dead letters) does not fit. */
const PROBE_HINTS: Partial<Record<ErrorCode, string>> = {
  UCW_ERR_DELIVERY_NETWORK:
    'Check that the receiver runs and that this machine reaches it (address, port, firewall, DNS, TLS: ' +
    '--ca-file for a private CA); the bridge would keep its events and retry.',
  UCW_ERR_DELIVERY_TIMEOUT:
    'Check that the receiver is up and not overloaded, or give it more time with --probe-timeout-ms.',
};

export interface ProbeOptions {
  readonly timeoutMs: number;
  readonly blockPrivateNetworks: boolean;
  readonly caFile?: string | undefined;
  readonly userAgent: string;
}

export async function probeUrls(urls: readonly string[], o: ProbeOptions): Promise<CheckResult[]> {
  const policy: EgressPolicy = { blockPrivateNetworks: o.blockPrivateNetworks };
  const ca = trustedCas(o.caFile === undefined ? undefined : loadCaFile(o.caFile));
  // undici loads here, not at import: the bridge's own start-up does not pay for it (it probes nothing).
  const undici: typeof Undici = await import('undici');
  const { guardedConnector } = await import('../delivery/http-sender.js');
  const agent = new undici.Agent({
    connect: guardedConnector(policy, {
      timeout: o.timeoutMs,
      lookup: createGuardedLookup(policy),
      ...(ca === undefined ? {} : { ca }),
    }),
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
  });
  try {
    // One at a time: a check is not a load test, and the lines come out in registry order.
    const out: CheckResult[] = [];
    for (const url of urls) out.push(await probeOne(undici.request, agent, url, o));
    return out;
  } finally {
    await agent.destroy();
  }
}

async function probeOne(
  request: typeof Undici.request,
  agent: Undici.Agent,
  url: string,
  o: ProbeOptions,
): Promise<CheckResult> {
  const where = safeUrl(url);
  const name = 'probe';
  const signal = AbortSignal.timeout(o.timeoutMs);
  const started = performance.now();
  try {
    const res = await request(url, {
      method: 'HEAD',
      dispatcher: agent,
      signal,
      headers: { 'user-agent': o.userAgent },
    });
    await res.body.dump();
    const ms = Math.round(performance.now() - started);
    return { name, status: 'OK', message: `${where} answered ${res.statusCode} in ${ms} ms` };
  } catch (error) {
    const outcome = classifyError({
      error,
      abortedByBudget: signal.aborted,
      budgetMs: o.timeoutMs,
      closing: false,
      where,
      url,
      sentBody: '',
      durationMs: performance.now() - started,
    });
    const failed = 'error' in outcome ? outcome.error : undefined;
    const code: ErrorCode = failed?.code ?? 'UCW_ERR_DELIVERY_NETWORK';
    const message = failed?.message ?? `${where}: no answer`;
    return { name, status: 'WARN', code, message, hint: PROBE_HINTS[code] ?? CODES[code].hint };
  }
}
