// Human forms of a status snapshot's figures, shared by the text of `status` and the status page.

/** 0 s, 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unlimited';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** 512 B, 1.5 KiB, 20.0 MiB, 3.2 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** How long ago `iso` was, from `nowIso` (both ISO 8601). */
export function ago(iso: string, nowIso: string): string {
  return `${formatDuration((Date.parse(nowIso) - Date.parse(iso)) / 1000)} ago`;
}
