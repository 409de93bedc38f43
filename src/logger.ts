// pino logging: one root logger, one child per module (`component`). Secrets are redacted by path and
// URL credentials are stripped before a URL is logged (safe-url.ts); payload bodies are only ever
// logged at debug.

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
