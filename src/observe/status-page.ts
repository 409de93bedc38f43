// The status page at `/`: one server-rendered HTML page of a StatusSnapshot, with inline CSS, no
// script and no external asset (the admin API's CSP allows nothing else); a meta refresh reloads it.
// Invariant: every value from the snapshot goes through escapeHtml() (receiver errors and URLs are
// text from outside).

import { ago, formatBytes, formatDuration } from '../ops/status-format.js';
import type { StatusSnapshot, UrlStatus } from '../ops/status-types.js';

export const PAGE_REFRESH_SECONDS = 5;

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#57606a}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dt{color:#57606a}dd{margin:0}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}.warn{color:#9a6700;font-weight:600}
tr.state-failing,tr.state-paused{background:#fff1f0}.err{color:#cf222e;word-break:break-word}
`;

function field(label: string, value: string, cls = ''): string {
  return `<dt>${escapeHtml(label)}</dt><dd${cls ? ` class="${cls}"` : ''}>${value}</dd>`;
}

function sourceBlock(s: StatusSnapshot): string {
  const src = s.source;
  const rows: string[] = [];
  if (src.connected !== undefined) {
    rows.push(
      field('connected', src.connected ? 'yes' : 'no', src.connected ? 'ok' : 'bad') +
        (src.lastError !== undefined ? field('last error', escapeHtml(src.lastError), 'err') : ''),
    );
  } else rows.push(field('connected', 'unknown (no bridge running)'));
  const cp = src.checkpoint;
  rows.push(field('checkpoint', cp ? escapeHtml(`${cp.file}:${cp.position}`) : 'none yet'));
  if (cp?.gtid !== undefined) rows.push(field('checkpoint GTID', escapeHtml(cp.gtid)));
  if (cp?.commitTime !== undefined)
    rows.push(
      field(
        'checkpoint commit time',
        `${escapeHtml(cp.commitTime)} (${escapeHtml(ago(cp.commitTime, s.generatedAt))})`,
      ),
    );
  if (src.serverHead) rows.push(field('server head', escapeHtml(`${src.serverHead.file}:${src.serverHead.position}`)));
  if (src.lagBytes !== undefined) rows.push(field('lag', escapeHtml(formatBytes(src.lagBytes))));
  if (src.lagSeconds !== undefined) rows.push(field('lag (time)', escapeHtml(formatDuration(src.lagSeconds))));
  if (src.checkpointPurged) rows.push(field('binlog', 'the checkpoint’s file was purged from the server', 'bad'));
  if (src.serverHead) {
    const h = src.retentionHeadroomSeconds;
    rows.push(
      field(
        'retention headroom',
        h !== undefined
          ? escapeHtml(formatDuration(h))
          : src.retention?.expireSeconds || src.retention?.totalSizeCapBytes
            ? 'no estimate yet'
            : 'no automatic purge',
        h !== undefined && h < 86_400 ? 'warn' : '',
      ),
    );
  }
  if (src.sampledAt !== undefined) rows.push(field('server read at', escapeHtml(src.sampledAt)));
  return `<dl>${rows.join('')}</dl>`;
}

function stateCell(u: UrlStatus): string {
  if (u.state === 'ok') return '<span class="ok">ok</span>';
  const until = u.pausedUntil !== undefined ? ` until ${escapeHtml(u.pausedUntil)}` : '';
  return `<span class="bad">${escapeHtml(u.state)}</span>${until}`;
}

function urlRow(u: UrlStatus, now: string): string {
  const err = u.lastError
    ? `<span class="err">${u.lastError.status !== undefined ? `${escapeHtml(u.lastError.status)} ` : ''}` +
      `${escapeHtml(u.lastError.message)}</span><br><small>${escapeHtml(ago(u.lastError.at, now))}</small>`
    : '';
  const cells = [
    `<td>${escapeHtml(u.url)}</td>`,
    `<td>${stateCell(u)}</td>`,
    ...[u.pending, u.inFlight, u.retrying, u.dead, u.cancelled].map((n) => `<td class="n">${escapeHtml(n)}</td>`),
    `<td>${u.oldestPendingAgeSeconds !== undefined ? escapeHtml(formatDuration(u.oldestPendingAgeSeconds)) : ''}</td>`,
    `<td>${u.lastSuccessAt !== undefined ? escapeHtml(ago(u.lastSuccessAt, now)) : 'never'}</td>`,
    `<td>${err}</td>`,
  ];
  const state = escapeHtml(u.state);
  return `<tr class="state-${state}" data-url="${escapeHtml(u.url)}" data-state="${state}">${cells.join('')}</tr>`;
}

function urlTable(s: StatusSnapshot): string {
  if (s.urls.length === 0) return '<p>No deliveries in the store and no URL registered yet.</p>';
  const head = [
    'URL',
    'state',
    'pending',
    'in flight',
    'retrying',
    'dead',
    'cancelled',
    'oldest pending',
    'last success',
    'last error',
  ];
  return (
    `<table id="urls"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>` +
    `<tbody>${s.urls.map((u) => urlRow(u, s.generatedAt)).join('')}</tbody></table>`
  );
}

function deadTable(s: StatusSnapshot): string {
  if (s.deadLetters.length === 0) return '<p>None.</p>';
  const rows = s.deadLetters.map(
    (d) =>
      `<tr><td class="n">${escapeHtml(d.id)}</td><td>${escapeHtml(d.url)}</td><td>${escapeHtml(d.event)}</td>` +
      `<td>${escapeHtml(d.eventId)}</td><td class="n">${escapeHtml(d.attempts)}</td>` +
      `<td>${escapeHtml(d.failedAt)}</td>` +
      `<td class="err">${escapeHtml(d.lastError ?? '')}</td></tr>`,
  );
  return (
    '<table id="dead"><thead><tr><th>id</th><th>URL</th><th>event</th><th>event id</th><th>attempts</th>' +
    `<th>failed at</th><th>error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

export function renderStatusPage(s: StatusSnapshot, refreshSeconds = PAGE_REFRESH_SECONDS): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${escapeHtml(refreshSeconds)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ucontact-webhooks status</title><style>${STYLE}</style></head>
<body>
<h1>ucontact-webhooks</h1>
<p class="meta">version ${escapeHtml(s.version)} · ${escapeHtml(s.generatedAt)} · from the ${escapeHtml(s.from)}
 · refreshed every ${escapeHtml(refreshSeconds)} s</p>
<h2>Source</h2>
${sourceBlock(s)}
<h2>Webhook URLs</h2>
${urlTable(s)}
<h2>Latest dead letters</h2>
${deadTable(s)}
</body></html>
`;
}
