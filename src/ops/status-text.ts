// The text of `status`: a readable summary of a StatusSnapshot (the source, one row per URL, the
// latest dead letters). Pure; `--json` prints the snapshot itself instead.

import { ago, formatBytes, formatDuration } from './status-format.js';
import type { StatusSnapshot } from './status-types.js';

/** Columns padded to their widest cell; the last one is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function sourceLines(s: StatusSnapshot): string[] {
  const src = s.source;
  const out: Array<[string, string]> = [];
  if (src.connected !== undefined) out.push(['connected', src.connected ? 'yes' : 'no']);
  else out.push(['connected', 'unknown (no bridge running; read from the state store)']);
  if (src.lastError !== undefined) out.push(['last error', src.lastError]);
  const cp = src.checkpoint;
  if (!cp) out.push(['checkpoint', 'none yet (the bridge has not started streaming)']);
  else {
    out.push(['checkpoint', `${cp.file}:${cp.position}`]);
    if (cp.gtid !== undefined) out.push(['checkpoint GTID', cp.gtid]);
    if (cp.commitTime !== undefined)
      out.push(['commit time', `${cp.commitTime} (${ago(cp.commitTime, s.generatedAt)})`]);
  }
  if (src.serverHead) {
    out.push(['server head', `${src.serverHead.file}:${src.serverHead.position}`]);
    const lag = [
      src.lagBytes !== undefined ? formatBytes(src.lagBytes) : 'unknown bytes',
      src.lagSeconds !== undefined ? formatDuration(src.lagSeconds) : 'unknown time (no commit time stored)',
    ];
    out.push(['lag', lag.join(', ')]);
    if (src.checkpointPurged) out.push(['binlog', "PURGED: the checkpoint's file is no longer on the server"]);
    const r = src.retention ?? {};
    const why = [
      r.expireSeconds !== undefined ? `expiry ${formatDuration(r.expireSeconds)}` : undefined,
      r.totalSizeCapBytes !== undefined ? `size cap ${formatBytes(r.totalSizeCapBytes)}` : undefined,
      r.writeRateBytesPerSecond !== undefined ? `writes ${formatBytes(r.writeRateBytesPerSecond)}/s` : undefined,
    ].filter((x) => x !== undefined);
    const h = src.retentionHeadroomSeconds;
    const purges = Boolean(r.expireSeconds || r.totalSizeCapBytes);
    const headroom = h !== undefined ? formatDuration(h) : purges ? 'no estimate yet' : 'no automatic purge';
    out.push(['retention headroom', headroom + (why.length > 0 ? ` (${why.join(', ')})` : '')]);
    if (src.sampledAt !== undefined) out.push(['server read at', src.sampledAt]);
  } else if (s.from === 'bridge') out.push(['server', 'not read yet (the bridge reads it every 30 s)']);
  else out.push(['server', 'not asked (pass --mysql-url for lag and retention headroom)']);
  return table(out.map(([k, v]) => [`  ${k}`, v]));
}

function errorText(e: { message: string; status?: number }): string {
  return e.status !== undefined ? `${e.status} ${e.message}` : e.message;
}

function urlLines(s: StatusSnapshot): string[] {
  if (s.urls.length === 0) return ['  none'];
  const head = [
    '  URL',
    'STATE',
    'PENDING',
    'IN FLIGHT',
    'RETRYING',
    'DEAD',
    'CANCELLED',
    'OLDEST',
    'LAST SUCCESS',
    'LAST ERROR',
  ];
  const rows = s.urls.map((u) => [
    `  ${u.url}`,
    u.state === 'ok' ? 'ok' : `${u.state}${u.pausedUntil !== undefined ? ` until ${u.pausedUntil}` : ''}`,
    String(u.pending),
    String(u.inFlight),
    String(u.retrying),
    String(u.dead),
    String(u.cancelled),
    u.oldestPendingAgeSeconds !== undefined ? formatDuration(u.oldestPendingAgeSeconds) : '-',
    u.lastSuccessAt !== undefined ? ago(u.lastSuccessAt, s.generatedAt) : '-',
    u.lastError ? `${ago(u.lastError.at, s.generatedAt)}: ${errorText(u.lastError)}` : '-',
  ]);
  return table([head, ...rows]);
}

function deadLines(s: StatusSnapshot): string[] {
  if (s.deadLetters.length === 0) return ['  none'];
  const head = ['  ID', 'URL', 'EVENT', 'EVENT ID', 'ATTEMPTS', 'FAILED AT', 'ERROR'];
  const rows = s.deadLetters.map((d) => [
    `  ${d.id}`,
    d.url,
    d.event,
    d.eventId,
    String(d.attempts),
    d.failedAt,
    d.lastError ?? '-',
  ]);
  return table([head, ...rows]);
}

export function renderStatusText(s: StatusSnapshot): string {
  const from = s.from === 'bridge' ? 'from the running bridge' : 'from the state store (no bridge running)';
  return [
    `ucontact-webhooks ${s.version} status at ${s.generatedAt}, ${from}`,
    '',
    'Source',
    ...sourceLines(s),
    '',
    'Webhook URLs',
    ...urlLines(s),
    '',
    `Latest dead letters (${s.deadLetters.length})`,
    ...deadLines(s),
    '',
  ].join('\n');
}
