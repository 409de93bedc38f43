import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplayEvent } from '../../src/ops/replay-dedup.js';
import { decisionLine, progressText, summaryLine } from '../../src/ops/replay-output.js';

const at = { file: 'bin.000002', pos: 1234 };

void describe('replay progress', () => {
  void it('on a terminal: a bar with percent, rate and ETA (redrawn in place: no newline)', () => {
    const text = progressText(
      { at, doneBytes: 3 * 1024 * 1024, totalBytes: 12 * 1024 * 1024, elapsedMs: 2_000, events: 42 },
      true,
    );
    assert.equal(text, '[######..................]  25% 1.5 MiB/s ETA 6s 42 events');
  });

  void it('elsewhere: one plain line with the position', () => {
    const text = progressText(
      { at, doneBytes: 150 * 1024, totalBytes: 300 * 1024, elapsedMs: 60_000, events: 7 },
      false,
    );
    assert.equal(text, 'replay: 50% at bin.000002:1234, 7 events, 2.5 KiB/s, ETA 1m00s\n');
  });

  void it('before any byte is read the ETA is unknown', () => {
    assert.match(progressText({ at, doneBytes: 0, totalBytes: 10, elapsedMs: 0, events: 0 }, true), /ETA \? 0 events$/);
  });
});

void describe('replay results', () => {
  const ev: ReplayEvent = {
    id: '6f1c5e2a-0000-5000-8000-000000000001',
    name: 'AgentLog',
    orderKey: 'agent:jdoe',
    occurredAtMs: Date.UTC(2026, 2, 2, 9, 0, 0),
    body: '{}',
    urls: ['http://a.test/hook?token=s3cret'],
    source: { file: 'bin.000001', pos: 900 },
    span: { from: 900, to: 950 },
  };

  void it('a JSON line per (event, URL), the URL without its query string', () => {
    const line = decisionLine(
      ev,
      { url: ev.urls[0]!, enqueue: false, reason: 'delivered' },
      { json: true, dryRun: true },
    );
    assert.deepEqual(JSON.parse(line), {
      eventId: ev.id,
      event: 'AgentLog',
      url: 'http://a.test/hook?[redacted]',
      action: 'skip',
      reason: 'delivered',
      occurredAt: '2026-03-02T09:00:00.000Z',
      source: 'bin.000001:900',
    });
  });

  void it('a table row says what was done, and the summary says how', () => {
    const row = decisionLine(
      ev,
      { url: 'http://b.test/', enqueue: true, reason: 'new' },
      { json: false, dryRun: false },
    );
    assert.match(
      row,
      /^enqueued {7}6f1c5e2a-0000-5000-8000-000000000001 AgentLog .* bin\.000001:900 .*http:\/\/b\.test\/\n$/,
    );
    const summary = {
      from: 'bin.000001:4',
      to: 'bin.000001:2000',
      dryRun: false,
      via: 'bridge' as const,
      events: 6,
      enqueue: 4,
      skipped: { delivered: 2, pending: 0 },
    };
    assert.equal(
      summaryLine(summary, false),
      'replayed bin.000001:4 .. bin.000001:2000: 6 events; 4 enqueued through the running bridge; ' +
        'skipped 2 delivered, 0 pending\n',
    );
    assert.deepEqual(JSON.parse(summaryLine(summary, true)), { summary });
  });
});
