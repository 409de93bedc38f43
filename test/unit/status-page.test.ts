import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderStatusPage } from '../../src/observe/status-page.js';
import type { StatusSnapshot } from '../../src/ops/status-types.js';

const NOW = '2026-11-30T12:00:00.000Z';

const snapshot = (over: Partial<StatusSnapshot> = {}): StatusSnapshot => ({
  version: '1.2.3',
  generatedAt: NOW,
  from: 'bridge',
  source: {
    connected: true,
    checkpoint: { file: 'binlog.000002', position: 9_876, gtid: '0-1-7', commitTime: '2026-11-30T11:59:30.000Z' },
    serverHead: { file: 'binlog.000002', position: 10_900 },
    lagBytes: 1_024,
    lagSeconds: 30,
    retentionHeadroomSeconds: 3 * 86_400,
  },
  urls: [
    {
      url: 'http://127.0.0.1:8080/ok',
      pending: 0,
      inFlight: 0,
      retrying: 0,
      dead: 0,
      cancelled: 0,
      state: 'ok',
      lastSuccessAt: '2026-11-30T11:59:58.000Z',
    },
    {
      url: 'http://127.0.0.1:8080/down?[redacted]',
      pending: 12,
      inFlight: 1,
      retrying: 3,
      dead: 2,
      cancelled: 0,
      state: 'failing',
      pausedUntil: '2026-11-30T12:00:04.000Z',
      lastError: {
        at: '2026-11-30T11:59:59.000Z',
        message: 'UCW_ERR_DELIVERY_HTTP: answered 500 <script>alert(1)</script>',
        status: 500,
      },
      oldestPendingAgeSeconds: 95,
    },
  ],
  deadLetters: [
    {
      id: 41,
      url: 'http://127.0.0.1:8080/down?[redacted]',
      event: 'AgentLog',
      eventId: 'a1b2',
      attempts: 8,
      failedAt: '2026-11-30T11:58:00.000Z',
      lastError: 'UCW_ERR_DELIVERY_REJECTED: "quoted" & <tagged>',
    },
  ],
  ...over,
});

void describe('status page', () => {
  void it('escapes the five HTML-special characters', () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>&</a>`),
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  void it('shows the source, one row per URL and the dead letters, and refreshes itself', () => {
    const html = renderStatusPage(snapshot(), 5);
    assert.match(html, /<meta http-equiv="refresh" content="5">/);
    assert.match(html, /binlog\.000002:9876/);
    assert.match(html, /<dt>lag<\/dt><dd>1\.0 KiB<\/dd>/);
    assert.match(html, /<dt>retention headroom<\/dt><dd>3 d<\/dd>/);
    assert.equal(html.match(/<tr class="state-[a-z]+" data-url=/g)?.length, 2);
    assert.match(html, /<tr class="state-ok" data-url="http:\/\/127\.0\.0\.1:8080\/ok" data-state="ok">/);
    assert.match(html, /<table id="dead">.*<td class="n">41<\/td>/s);
    assert.doesNotMatch(html, /<(script|link|img)\b/i, 'no script and no external asset');
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1:8080)/, 'no link to anywhere else');
  });

  void it('shows a failing URL with its state, wait and escaped last error', () => {
    const html = renderStatusPage(snapshot());
    const row =
      /<tr class="state-failing" data-url="http:\/\/127\.0\.0\.1:8080\/down\?\[redacted\]"[^>]*>(.*?)<\/tr>/s.exec(
        html,
      )?.[1];
    assert.ok(row, 'the failing URL has its row');
    assert.match(row, /<span class="bad">failing<\/span> until 2026-11-30T12:00:04\.000Z/);
    assert.match(row, /500 UCW_ERR_DELIVERY_HTTP: answered 500 &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(row, /1 s ago/);
    assert.match(html, /&quot;quoted&quot; &amp; &lt;tagged&gt;/);
    assert.doesNotMatch(html, /<script>alert/);
  });

  void it('says what is unknown when read from the store alone', () => {
    const html = renderStatusPage(
      snapshot({
        from: 'store',
        source: { checkpoint: { file: 'binlog.000001', position: 4 } },
        urls: [],
        deadLetters: [],
      }),
    );
    assert.match(html, /unknown \(no bridge running\)/);
    assert.match(html, /No deliveries in the store/);
    assert.match(html, /<h2>Latest dead letters<\/h2>\n<p>None\.<\/p>/);
  });
});
