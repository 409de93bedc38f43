// URLs as they may appear in logs and errors. Apart from logger.ts so that the delivery worker, which
// names URLs in its error messages, does not load pino into its thread.

/** A URL safe to log: user info and query string removed (they may hold tokens). */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    const hadQuery = u.search !== '';
    u.search = '';
    u.hash = '';
    return hadQuery ? `${u.toString()}?[redacted]` : u.toString();
  } catch {
    return '[unparsable url]';
  }
}

/**
 * Like safeUrl, but text that is not a URL (a typo in a registration) is shown too, cut before any
 * query string or fragment and without anything before an `@`, so the typo can be seen and fixed.
 */
export function safeUrlOrText(raw: string): string {
  const safe = safeUrl(raw);
  if (safe !== '[unparsable url]') return safe;
  const head = raw.split(/[?#]/, 1)[0]!;
  const at = head.lastIndexOf('@');
  const shown = at < 0 ? head : `[redacted]@${head.slice(at + 1)}`;
  return `"${shown}"${head.length < raw.length ? '?[redacted]' : ''}`;
}
