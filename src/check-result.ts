// One check's verdict, shared by the start-up preflight (src/source/preflight.ts), which throws on the
// first FAIL and logs each WARN, and `ucontact-webhooks check` (src/ops/), which prints them all.

import type { Code } from './error-codes.js';

/** OK: fine. WARN: the bridge runs, but look at it. FAIL: the bridge cannot run. */
export type CheckStatus = 'OK' | 'WARN' | 'FAIL';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  /** Set for WARN and FAIL: the code whose docs/errors.md entry explains it. */
  readonly code?: Code;
  readonly message: string;
  /** What to do. */
  readonly hint?: string;
  /** Structured fields for the bridge's log line (never printed by `check`). */
  readonly details?: Readonly<Record<string, unknown>>;
}
