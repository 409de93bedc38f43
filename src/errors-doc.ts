// Renders docs/errors.md from the CODES table in error-codes.ts: every error and warning code with its
// meaning and what to do. Pure: `npm run docs:errors` writes its result, and a unit test fails when
// the file differs.

import { CODES, type Code } from './errors.js';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(codes: readonly Code[]): string {
  const rows = codes.map((c) => `| \`${c}\` | ${cell(CODES[c].meaning)} | ${cell(CODES[c].hint)} |`);
  return ['| code | meaning | what to do |', '|---|---|---|', ...rows].join('\n');
}

/** The whole of docs/errors.md. */
export function renderErrorsDoc(): string {
  const all = Object.keys(CODES) as Code[];
  const errors = all.filter((c) => CODES[c].kind === 'error');
  const warnings = all.filter((c) => CODES[c].kind === 'warning');
  return `# Error and warning codes

<!-- Generated from src/error-codes.ts by \`npm run docs:errors\`; do not edit by hand. -->

Every failure the bridge reports carries a stable code, and so does every warning it logs. Look for
the \`code\` field of a JSON log line, or the first word of a message printed at start-up:

- \`UCW_ERR_<AREA>_<WHAT>\`: an error. At start-up it stops the bridge with the code, the message and
  a line saying what to do (exit 2 for configuration and rules, 1 otherwise). While running, source
  errors marked "retried" are retried with backoff and shown by \`/readyz\`; delivery errors are
  recorded with the delivery (\`deliveries list\` shows the last one).
- \`UCW_WARN_<AREA>_<WHAT>\`: a warning. The bridge goes on; the hint says whether to act.

## Errors

${table(errors)}

## Warnings

${table(warnings)}
`;
}
