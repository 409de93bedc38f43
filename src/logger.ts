// pino logging: one root logger, one child per module (`component`). Secrets are redacted by path and
// URL credentials are stripped before a URL is logged; payload bodies are only ever logged at debug.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'password',
  'secret',
  'signingSecret',
  'signingSecrets',
  'mysqlUrl',
  '*.password',
  '*.secret',
  '*.signingSecret',
  '*.signingSecrets',
  '*.mysqlUrl',
  'headers.authorization',
  'headers["webhook-signature"]',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'ucontact-webhooks' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

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
