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
