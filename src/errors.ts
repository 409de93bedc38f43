// Every failure the bridge reports is a BridgeError with a stable code from the table in error-codes.ts
// (meaning and hint there), a hint saying what to do, and whether retrying can help. Callers branch on
// `code` / `retryable`, never on message text.

import type { ErrorCode } from './error-codes.js';

export { CODES, type Code, type ErrorCode, type WarningCode } from './error-codes.js';

export interface BridgeErrorOptions {
  retryable?: boolean;
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** One line for a terminal: code, message and what to do. */
  toDisplayString(): string {
    return this.hint ? `${this.code}: ${this.message}\n  -> ${this.hint}` : `${this.code}: ${this.message}`;
  }
}

export function isBridgeError(err: unknown): err is BridgeError {
  return err instanceof BridgeError;
}

/** A short, secret-free description of any thrown value, for logs. */
export function describeError(err: unknown): { code?: string; message: string } {
  if (err instanceof BridgeError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}
