// What goes on the wire for each BodyFormat. 'ucontact' is the stored body byte-for-byte (it was
// rendered once at enqueue time, so retries send identical bytes); 'envelope' re-wraps the same data
// in uContact's Id/CreationDateUtc/Category/Code/Event/Data shape. Pure and deterministic.

import { EVENT_SPECS, isEventName } from '../domain/events.js';
import type { BodyFormat } from './types.js';

export interface EnvelopeBody {
  readonly Id: string;
  /** UTC `yyyyMMddHHmmss` of when the event happened. */
  readonly CreationDateUtc: string;
  readonly Category: number;
  readonly Code: number;
  readonly Event: string;
  readonly Data: Record<string, unknown>;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `yyyyMMddHHmmss` in UTC. */
export function compactUtc(epochMs: number): string {
  const d = new Date(epochMs);
  if (Number.isNaN(d.getTime())) throw new RangeError('occurredAtMs is not a valid time');
  return (
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds())
  );
}

/**
 * Throws (without echoing the body, which may hold personal data) when an 'envelope' is asked for and
 * the stored body is not a uContact event object; that cannot get better on retry.
 */
export function renderBody(format: BodyFormat, storedBody: string, eventId: string, occurredAtMs: number): string {
  if (format === 'ucontact') return storedBody;

  let parsed: unknown;
  try {
    parsed = JSON.parse(storedBody);
  } catch {
    throw new Error('stored body is not valid JSON; cannot build the envelope');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('stored body is not a JSON object; cannot build the envelope');
  }
  const { event, date: _date, ...data } = parsed as Record<string, unknown>;
  if (!isEventName(event)) {
    throw new Error('stored body has no known "event" name; cannot build the envelope');
  }
  const spec = EVENT_SPECS[event];
  // Object literal order is the serialization order; the rest-spread keeps the body's field order.
  // (Field names are never integer-like, so JSON.parse insertion order is preserved.)
  const envelope: EnvelopeBody = {
    Id: eventId,
    CreationDateUtc: compactUtc(occurredAtMs),
    Category: spec.category,
    Code: spec.code,
    Event: event,
    Data: data,
  };
  return JSON.stringify(envelope);
}
