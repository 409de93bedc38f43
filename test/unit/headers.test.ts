import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { buildHeaders } from '../../src/delivery/headers.js';
import { createSigner } from '../../src/delivery/signing.js';

const BODY = '{"event":"AgentBreak","date":"2026-03-02 14:05:09","agent":"ana","motive":"lunch","isBreak":true}';
const BASE = {
  eventId: '6a1f0c7e-1d2b-5c3d-8e4f-0a1b2c3d4e5f',
  eventName: 'AgentBreak' as const,
  occurredAtMs: Date.UTC(2026, 2, 2, 14, 5, 9),
  timestampSec: 1772460400,
  body: BODY,
  ceSource: 'ucontact-webhooks://db1',
  userAgent: 'ucontact-webhooks/0.1.0',
};

void describe('buildHeaders', () => {
  void it('produces exactly the unsigned header set', () => {
    assert.deepEqual(buildHeaders(BASE), {
      'content-type': 'application/json',
      'user-agent': 'ucontact-webhooks/0.1.0',
      'webhook-id': BASE.eventId,
      'webhook-timestamp': '1772460400',
      'ce-specversion': '1.0',
      'ce-id': BASE.eventId,
      'ce-type': 'com.ucontact.AgentBreak',
      'ce-source': 'ucontact-webhooks://db1',
      'ce-time': '2026-03-02T14:05:09Z',
    });
  });

  void it('adds webhook-signature over id.timestamp.body when a signer is given', () => {
    const signer = createSigner(['whsec_c2VjcmV0LWtleQ==']);
    const headers = buildHeaders({ ...BASE, signer });
    const expected = createHmac('sha256', Buffer.from('secret-key'))
      .update(`${BASE.eventId}.1772460400.${BODY}`)
      .digest('base64');
    assert.equal(headers['webhook-signature'], `v1,${expected}`);
    assert.equal(Object.keys(headers).length, 10);
  });

  void it('writes milliseconds in ce-time only when non-zero', () => {
    assert.equal(
      buildHeaders({ ...BASE, occurredAtMs: BASE.occurredAtMs + 120 })['ce-time'],
      '2026-03-02T14:05:09.120Z',
    );
    assert.equal(buildHeaders({ ...BASE, occurredAtMs: BASE.occurredAtMs + 7 })['ce-time'], '2026-03-02T14:05:09.007Z');
    assert.equal(buildHeaders({ ...BASE, occurredAtMs: 0 })['ce-time'], '1970-01-01T00:00:00Z');
  });

  void it('depends only on its input (timestamp is not read from the clock)', () => {
    assert.deepEqual(buildHeaders({ ...BASE, timestampSec: 5 })['webhook-timestamp'], '5');
    assert.deepEqual(buildHeaders(BASE), buildHeaders(BASE));
  });
});
