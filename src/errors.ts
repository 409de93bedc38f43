// Every failure the bridge reports carries a stable code (UCW_ERR_<AREA>_<WHAT>), a hint saying what
// to do, and whether retrying can help. Callers branch on `code` / `retryable`, never on message text.

export const ERROR_CODES = {
  UCW_ERR_CONFIG_INVALID: 'Configuration is invalid',
  UCW_ERR_CONFIG_SECRET_FILE: 'A secret file is unreadable, empty, or readable by other users',
  UCW_ERR_RULES_PARSE: 'Rules file is not valid JSON or YAML',
  UCW_ERR_RULES_INVALID: 'Rules file does not match the rules schema',
  UCW_ERR_RULES_READ: 'Rules file cannot be read',
  UCW_ERR_RULES_SCHEMA: 'The rules name a table or column the source does not have',
  UCW_ERR_RULES_SCHEMA_DRIFT: 'A mapped table changed shape; the rules reading it were stopped',
  UCW_ERR_RULES_EVAL: 'A rule failed on a row change; that event was not produced',
  UCW_ERR_SOURCE_CONNECT: 'Cannot connect to the source database',
  UCW_ERR_SOURCE_AUTH: 'The source database refused the credentials',
  UCW_ERR_SOURCE_GRANTS: 'The bridge user lacks a required privilege',
  UCW_ERR_SOURCE_BINLOG_DISABLED: 'Binary logging is off on the source server',
  UCW_ERR_SOURCE_BINLOG_FORMAT: 'binlog_format is not ROW',
  UCW_ERR_SOURCE_ROW_IMAGE: 'binlog_row_image is not FULL',
  UCW_ERR_SOURCE_BINLOG_COMPRESSION: 'binlog_transaction_compression is ON (MySQL)',
  UCW_ERR_SOURCE_PARTIAL_JSON: 'binlog_row_value_options is PARTIAL_JSON (MySQL)',
  UCW_ERR_SOURCE_STREAM: 'The binlog stream failed',
  UCW_ERR_SOURCE_STUCK: 'The binlog stream fails at the same checkpoint again and again',
  UCW_ERR_SOURCE_BINLOG_GONE: 'The checkpoint binlog file is no longer on the server',
  UCW_ERR_SOURCE_CHECKPOINT_FOREIGN: 'The checkpoint belongs to another server or history',
  UCW_ERR_SOURCE_SERVER_ID_CLASH: 'Another replica connected with the same server id; the server dropped the stream',
  UCW_ERR_SOURCE_QUERY: 'A read-only lookup query on the source failed',
  UCW_ERR_SOURCE_XA_UNSUPPORTED: 'A two-phase XA transaction changed a watched table',
  UCW_ERR_SOURCE_ROLLBACK_IN_PART: 'A transaction read in parts rolled back rows already handed over',
  UCW_ERR_REGISTRY_BAD_ROW: 'A row of the webhooks table is unusable',
  UCW_ERR_OUTBOX_OPEN: 'The local state store cannot be opened',
  UCW_ERR_STATE_LOCKED: 'Another process (a running bridge) holds the state directory',
  UCW_ERR_DELIVERY_HTTP_STATUS: 'The receiver answered with a non-2xx status',
  UCW_ERR_DELIVERY_NETWORK: 'The receiver could not be reached',
  UCW_ERR_DELIVERY_TIMEOUT: 'The receiver did not answer in time',
  UCW_ERR_DELIVERY_REQUEST: 'The request could not be built (unusable URL or stored body)',
  UCW_ERR_DELIVERY_EXHAUSTED: 'Retry budget spent; event dead-lettered',
  UCW_ERR_DELIVERY_GONE: 'The receiver answered 410 Gone; its URL is paused and its events kept',
  UCW_ERR_DELIVERY_BLOCKED: 'The destination address is refused by the egress guard; dead-lettered',
  UCW_ERR_HTTP_LISTEN: 'The health/metrics HTTP port cannot be opened',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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
