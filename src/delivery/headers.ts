// HTTP request headers of one delivery attempt: Standard Webhooks (`webhook-*`) plus CloudEvents
// binary-mode attributes (`ce-*`). Pure; the signature covers exactly the `body` string passed in,
// which must be the very bytes sent on the wire.

import type { EventName } from '../domain/events.js';
import type { Signer } from './signing.js';

export interface HeaderInput {
  readonly eventId: string;
  readonly eventName: EventName;
  /** When the event happened, epoch ms (UTC): becomes `ce-time`. */
  readonly occurredAtMs: number;
  /** Unix seconds of this attempt: `webhook-timestamp`, and part of the signed content. */
  readonly timestampSec: number;
  readonly body: string;
  readonly signer?: Signer | undefined;
  readonly ceSource: string;
  readonly userAgent: string;
}

/** Reverse-DNS prefix of the CloudEvents `type` attribute. */
const CE_TYPE_PREFIX = 'com.ucontact.';

/** RFC 3339 UTC; milliseconds only when non-zero (`2026-03-02T14:05:09Z` / `...09.120Z`). */
export function rfc3339Utc(epochMs: number): string {
  // Events of one source transaction share their time: the last one formatted is kept.
  if (epochMs === lastTime.ms) return lastTime.text;
  const iso = new Date(epochMs).toISOString();
  const text = iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  lastTime.ms = epochMs;
  lastTime.text = text;
  return text;
}
const lastTime = { ms: Number.NaN, text: '' };

export function buildHeaders(input: HeaderInput): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': input.userAgent,
    'webhook-id': input.eventId,
    'webhook-timestamp': String(input.timestampSec),
  };
  if (input.signer) headers['webhook-signature'] = input.signer.sign(input.eventId, input.timestampSec, input.body);
  headers['ce-specversion'] = '1.0';
  headers['ce-id'] = input.eventId;
  headers['ce-type'] = `${CE_TYPE_PREFIX}${input.eventName}`;
  headers['ce-source'] = input.ceSource;
  headers['ce-time'] = rfc3339Utc(input.occurredAtMs);
  return headers;
}
