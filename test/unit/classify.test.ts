// What an answer or a failure means for a delivery, decided from plain facts: no socket, no clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyAnswer,
  classifyError,
  unexpectedFailure,
  unsendable,
  type Answer,
  type Failure,
} from '../../src/delivery/classify.js';
import { EGRESS_BLOCKED_CODE } from '../../src/delivery/egress-guard.js';

const URL_WITH_SECRETS = 'https://user:pa55word@hooks.example.com/in?token=s3cret-token';
const SENT = '{"event":"AgentLog","agent":"mgarcía","isLogin":true}';
const NOW = Date.UTC(2026, 2, 2, 14, 6, 0);

const answer = (facts: Partial<Answer>): Answer => ({
  status: 200,
  retryAfter: undefined,
  location: undefined,
  sample: '',
  url: URL_WITH_SECRETS,
  sentBody: SENT,
  durationMs: 12,
  nowMs: NOW,
  ...facts,
});

const failure = (facts: Partial<Failure>): Failure => ({
  error: new Error('boom'),
  abortedByBudget: false,
  budgetMs: 10_000,
  closing: false,
  where: 'https://hooks.example.com/in?[redacted]',
  url: URL_WITH_SECRETS,
  sentBody: SENT,
  durationMs: 7,
  ...facts,
});

const coded = (code: string, message = `${code} happened`): Error => Object.assign(new Error(message), { code });

void describe('classifyAnswer', () => {
  void it('any 2xx is delivered, with its status and duration', () => {
    for (const status of [200, 201, 202, 204, 299]) {
      assert.deepEqual(classifyAnswer(answer({ status })), { kind: 'delivered', status, durationMs: 12 });
    }
  });

  void it('410 is gone (the URL pauses), whatever the body says', () => {
    assert.deepEqual(classifyAnswer(answer({ status: 410, sample: 'bye' })), {
      kind: 'gone',
      status: 410,
      error: { code: 'UCW_ERR_DELIVERY_GONE', message: 'receiver answered 410 Gone' },
      durationMs: 12,
    });
  });

  void it('5xx, 408 and 429 are retried, quoting the body; Retry-After in seconds or as a date is parsed', () => {
    assert.deepEqual(classifyAnswer(answer({ status: 503, sample: 'busy' })), {
      kind: 'retry',
      status: 503,
      error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 503: busy' },
      durationMs: 12,
    });
    assert.deepEqual(classifyAnswer(answer({ status: 429, retryAfter: '7' })), {
      kind: 'retry',
      status: 429,
      retryAfterMs: 7000,
      error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 429' },
      durationMs: 12,
    });
    const inAMinute = new Date(NOW + 60_000).toUTCString();
    const dated = classifyAnswer(answer({ status: 408, retryAfter: inAMinute }));
    assert.equal(dated.kind === 'retry' ? dated.retryAfterMs : undefined, 60_000);
    const unparsable = classifyAnswer(answer({ status: 500, retryAfter: 'soon' }));
    assert.equal(unparsable.kind, 'retry');
    assert.equal('retryAfterMs' in unparsable, false);
  });

  void it('other 4xx are dead, not retried', () => {
    assert.deepEqual(classifyAnswer(answer({ status: 404, sample: 'no such hook' })), {
      kind: 'dead',
      status: 404,
      error: { code: 'UCW_ERR_DELIVERY_HTTP_STATUS', message: 'receiver answered 404; not retried: no such hook' },
      durationMs: 12,
    });
  });

  void it('a redirect is dead and names its Location without credentials or query', () => {
    const o = classifyAnswer(answer({ status: 301, location: 'https://u:p@new.example.com/hook?key=abc' }));
    assert.deepEqual(o, {
      kind: 'dead',
      status: 301,
      error: {
        code: 'UCW_ERR_DELIVERY_HTTP_STATUS',
        message:
          'receiver answered 301 redirect (Location: https://new.example.com/hook?[redacted]); ' +
          'redirects are not followed, update the webhook URL',
      },
      durationMs: 12,
    });
    const relative = classifyAnswer(answer({ status: 307, location: '/v2' }));
    assert.match(
      relative.kind === 'dead' ? relative.error.message : '',
      /\(Location: https:\/\/hooks\.example\.com\/v2\)/,
    );
    const none = classifyAnswer(answer({ status: 302 }));
    assert.equal(
      none.kind === 'dead' ? none.error.message : '',
      'receiver answered 302 redirect; redirects are not followed, update the webhook URL',
    );
  });

  void it('the quoted body is one line, at most 200 characters, without the URL secrets or the sent body', () => {
    const echo = `bad\r\n\tquery ?token=s3cret-token with password pa55word; you sent ${SENT}`;
    const o = classifyAnswer(answer({ status: 400, sample: echo }));
    assert.equal(
      o.kind === 'dead' ? o.error.message : '',
      'receiver answered 400; not retried: bad query [redacted] with password [redacted]; you sent [request body]',
    );
    const long = classifyAnswer(answer({ status: 500, sample: 'x'.repeat(500) }));
    assert.equal(long.kind === 'retry' ? long.error.message : '', `receiver answered 500: ${'x'.repeat(200)}...`);
  });
});

void describe('classifyError', () => {
  const messageOf = (f: Partial<Failure>): string => {
    const o = classifyError(failure(f));
    return o.kind === 'retry' || o.kind === 'dead' ? o.error.message : '';
  };

  void it('a destination refused by the egress guard is dead, not retried', () => {
    const o = classifyError(failure({ error: coded(EGRESS_BLOCKED_CODE, 'address 169.254.169.254 is link-local') }));
    assert.deepEqual(o, {
      kind: 'dead',
      error: {
        code: 'UCW_ERR_DELIVERY_BLOCKED',
        message: 'https://hooks.example.com/in?[redacted]: not sent, address 169.254.169.254 is link-local',
      },
      durationMs: 7,
    });
  });

  void it('our own budget, or an undici timeout, is a retryable timeout', () => {
    assert.deepEqual(classifyError(failure({ abortedByBudget: true, budgetMs: 2500 })), {
      kind: 'retry',
      error: {
        code: 'UCW_ERR_DELIVERY_TIMEOUT',
        message: 'https://hooks.example.com/in?[redacted]: no answer within 2500 ms',
      },
      durationMs: 7,
    });
    const o = classifyError(failure({ error: coded('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error') }));
    assert.equal(o.kind === 'retry' ? o.error.code : '', 'UCW_ERR_DELIVERY_TIMEOUT');
    assert.equal(
      messageOf({ error: coded('ETIMEDOUT', 'connect ETIMEDOUT') }),
      'https://hooks.example.com/in?[redacted]: timed out (ETIMEDOUT: connect ETIMEDOUT)',
    );
  });

  void it('an invalid HTTP response is a retryable network failure', () => {
    assert.equal(
      messageOf({ error: coded('HPE_INVALID_CONSTANT', 'Expected HTTP/') }),
      'https://hooks.example.com/in?[redacted]: receiver sent an ' +
        'invalid HTTP response (HPE_INVALID_CONSTANT: Expected HTTP/)',
    );
  });

  void it('a failure while the sender closes says so, and is retried', () => {
    assert.deepEqual(classifyError(failure({ closing: true, error: coded('UND_ERR_DESTROYED') })), {
      kind: 'retry',
      error: {
        code: 'UCW_ERR_DELIVERY_NETWORK',
        message: 'https://hooks.example.com/in?[redacted]: not sent, the sender is shutting down',
      },
      durationMs: 7,
    });
  });

  void it('a request undici refuses to build is dead', () => {
    const o = classifyError(failure({ error: coded('UND_ERR_INVALID_ARG', 'invalid header value') }));
    assert.deepEqual(o, {
      kind: 'dead',
      error: {
        code: 'UCW_ERR_DELIVERY_REQUEST',
        message:
          'https://hooks.example.com/in?[redacted]: request rejected ' +
          'before sending (UND_ERR_INVALID_ARG: invalid header value)',
      },
      durationMs: 7,
    });
  });

  void it('certificate failures are retried with advice for their kind', () => {
    assert.match(
      messageOf({ error: coded('DEPTH_ZERO_SELF_SIGNED_CERT') }),
      /TLS verification failed, .*not signed by a trusted CA.*--ca-file/,
    );
    assert.match(
      messageOf({ error: coded('CERT_HAS_EXPIRED') }),
      /TLS verification failed, .*expired or not yet valid/,
    );
    assert.match(
      messageOf({ error: coded('ERR_TLS_CERT_ALTNAME_INVALID') }),
      /TLS verification failed, .*does not name this host/,
    );
    assert.equal(classifyError(failure({ error: coded('CERT_HAS_EXPIRED') })).kind, 'retry');
  });

  void it('anything else is a retryable network failure; the code of an AggregateError comes from its parts', () => {
    const refused = new AggregateError(
      [new Error('no code'), coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9')],
      '',
    );
    assert.deepEqual(classifyError(failure({ error: refused })), {
      kind: 'retry',
      error: {
        code: 'UCW_ERR_DELIVERY_NETWORK',
        message: 'https://hooks.example.com/in?[redacted]: could not reach the receiver (ECONNREFUSED:)',
      },
      durationMs: 7,
    });
    assert.equal(
      messageOf({ error: 'a string' }),
      'https://hooks.example.com/in?[redacted]: could not reach the receiver (string: a string)',
    );
  });

  void it('a message echoing the URL or the sent body is scrubbed', () => {
    assert.equal(
      messageOf({ error: coded('ECONNRESET', `reset while sending ${SENT} to ${URL_WITH_SECRETS}`) }),
      'https://hooks.example.com/in?[redacted]: could not reach the receiver ' +
        '(ECONNRESET: reset while sending [request body] to [redacted])',
    );
  });
});

void describe('unsendable and unexpectedFailure', () => {
  void it('a request that cannot be built is dead; an unforeseen failure is retried, scrubbed', () => {
    assert.deepEqual(unsendable('webhook URL x is not a valid http(s) URL', 1), {
      kind: 'dead',
      error: { code: 'UCW_ERR_DELIVERY_REQUEST', message: 'webhook URL x is not a valid http(s) URL' },
      durationMs: 1,
    });
    assert.deepEqual(
      unexpectedFailure({
        error: new TypeError(`bad ${URL_WITH_SECRETS}`),
        url: URL_WITH_SECRETS,
        sentBody: SENT,
        durationMs: 2,
      }),
      {
        kind: 'retry',
        error: { code: 'UCW_ERR_DELIVERY_NETWORK', message: 'unexpected send failure: TypeError: bad [redacted]' },
        durationMs: 2,
      },
    );
  });
});
