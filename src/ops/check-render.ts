// `check`'s output (pure): the results as text lines for a person or as `{checks: [...]}` JSON for a
// script, and the exit code they mean. Rendering only; the checks themselves are in check.ts.

import type { CheckResult } from '../check-result.js';

/** Exit code: 0 when the bridge can run (warnings allowed), 1 when any check failed. */
export function exitCodeOf(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}

/** `{checks: [{name, status, code?, message, hint?}]}`, one JSON document and a newline. */
export function renderJson(results: readonly CheckResult[]): string {
  const checks = results.map((r) => ({
    name: r.name,
    status: r.status,
    ...(r.code === undefined ? {} : { code: r.code }),
    message: r.message,
    ...(r.hint === undefined ? {} : { hint: r.hint }),
  }));
  return `${JSON.stringify({ checks }, null, 2)}\n`;
}

/** Names wider than this are not padded to: the message follows after two spaces. */
const MAX_NAME_COLUMN = 32;

/**
 * One line per check: status, name, message and, for WARN and FAIL, `[code]`; the hint on the next
 * line after `->`. A last line sums up and says whether the bridge can run.
 */
export function renderText(results: readonly CheckResult[]): string {
  const width = Math.min(MAX_NAME_COLUMN, Math.max(0, ...results.map((r) => r.name.length)));
  const lines: string[] = [];
  for (const r of results) {
    const code = r.code === undefined ? '' : ` [${r.code}]`;
    lines.push(`${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.message}${code}`);
    if (r.hint !== undefined && r.status !== 'OK') lines.push(`${' '.repeat(6 + width + 2)}-> ${r.hint}`);
  }
  const count = (s: CheckResult['status']): number => results.filter((r) => r.status === s).length;
  const verdict = exitCodeOf(results) === 0 ? 'the bridge can run' : 'the bridge cannot run';
  lines.push(`${count('OK')} OK, ${count('WARN')} WARN, ${count('FAIL')} FAIL: ${verdict}`);
  return `${lines.join('\n')}\n`;
}
