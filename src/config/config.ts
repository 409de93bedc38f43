// The bridge's configuration: one table of options (name, type, description) and one zod schema that
// holds every default. Precedence: defaults < config file < UCW_* environment < CLI flags. The loader
// is pure except for reading the config file, and the result is frozen.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../delivery/flow-window.js';
import { BridgeError } from '../errors.js';
import { parseJsonOrYaml } from './json-or-yaml.js';
import { resolveSecretFiles, type SecretFileWarning } from './secret-file.js';
import {
  duplicateProblems,
  pathText,
  receiversSchema,
  resolveReceivers,
  shortSecretWarnings,
  type ReceiverEntry,
  type ShortSecretWarning,
} from './receivers.js';
import { envName, flagName } from './option-names.js';
import { isValidTimeZone } from '../rules/time.js';
import { MAX_TIMER_MS } from '../safe-timer.js';
import { isLoopbackHost } from '../observe/admin-auth.js';

const HOUR_MS = 3_600_000;
/** Delays the delivery schedules (its timers wait in steps, see safe-timer.ts): at most 30 days. */
const MAX_DELAY_MS = 30 * 24 * HOUR_MS;
/** Requests at once for all URLs: a 20-URL fan-out ran faster at 64-128 than at 256 or 640 (bench/RESULTS.md). */
const CONCURRENCY_TOTAL_DEFAULT = 128;
const delayMs = (): z.ZodNumber => z.number().int().max(MAX_DELAY_MS, `must be at most ${MAX_DELAY_MS} ms (30 days)`);
/** Timeouts set as one Node timer: a longer one would fire after 1 ms. */
const timeoutMs = (): z.ZodNumber =>
  z
    .number()
    .int()
    .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest timer Node.js keeps)`);

export const configSchema = z.strictObject({
  mysqlUrl: z.string().min(1, 'is required (or --mysql-url-file)'),
  mysqlUrlFile: z.string().min(1).optional(),
  stateDir: z.string().min(1).default('./ucontact-webhooks-state'),
  rules: z.string().min(1).optional(),
  serverId: z.number().int().min(1).max(4_294_967_295).optional(),
  signingSecret: z.array(z.string().min(1)).default([]),
  signingSecretFile: z.string().min(1).optional(),
  timezone: z
    .string()
    .refine(isValidTimeZone, 'must be an IANA time zone such as UTC or America/Montevideo')
    .default('UTC'),
  httpHost: z.string().min(1).default('127.0.0.1'),
  httpPort: z.number().int().min(0).max(65_535).default(9464),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  adminTokenFile: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  bodyFormat: z.enum(['ucontact', 'envelope']).default('ucontact'),
  envelopeUrlPrefix: z.array(z.string().min(1)).default([]),
  ceSource: z.string().min(1).default('/ucontact-webhooks'),
  heartbeatSeconds: z.number().int().min(1).max(3600).default(5),
  maxQueuedRows: z.number().int().min(100).default(4_000),
  outboxSync: z.enum(['normal', 'full']).default('normal'),
  deliveredRetentionHours: z.number().min(0).default(168),
  maxDeadRows: z.number().int().min(0).default(100_000),
  connectTimeoutMs: timeoutMs().min(1).default(5_000),
  requestTimeoutMs: timeoutMs().min(1).default(10_000),
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .default(64 * 1024),
  concurrencyPerUrl: z.number().int().min(1).max(1024).default(32),
  concurrencyTotal: z.number().int().min(1).max(4096).default(CONCURRENCY_TOTAL_DEFAULT),
  maxAttempts: z.number().int().min(1).default(15),
  maxAgeMs: delayMs()
    .min(1)
    .default(24 * HOUR_MS),
  retryBaseMs: delayMs().min(1).default(1_000),
  retryMaxMs: delayMs()
    .min(1)
    .default(10 * 60_000),
  maxRetryAfterMs: delayMs().min(0).default(HOUR_MS),
  reconnectMinMs: timeoutMs().min(1).default(500),
  reconnectMaxMs: timeoutMs().min(1).default(30_000),
  shutdownGraceMs: timeoutMs().min(0).default(10_000),
  maxOutboxPending: z.number().int().min(1).default(1_000_000),
  gonePauseMs: delayMs().min(1).default(HOUR_MS),
  blockPrivateNetworks: z.boolean().default(false),
  caFile: z.string().min(1).optional(),
  resetToNow: z.boolean().default(false),
  maxOutboxBytes: z
    .number()
    .int()
    .min(1_048_576)
    .default(8 * 1024 ** 3),
  maxBufferedBytes: z.number().int().min(1_048_576).default(DEFAULT_MAX_BUFFERED_BYTES),
});

/** The options plus what only the config file holds: the `receivers` section (receivers.ts). */
const fileSchema = configSchema.extend({ receivers: receiversSchema });

export type Config = Readonly<Omit<z.output<typeof fileSchema>, 'receivers'>> & {
  readonly receivers: readonly ReceiverEntry[];
};
export type ConfigKey = keyof z.output<typeof configSchema>;

export interface OptionDef {
  readonly key: ConfigKey;
  readonly type: 'string' | 'number' | 'boolean' | 'array';
  readonly describe: string;
  readonly secret?: boolean;
}

/** Every option of `run`, in help order. CLI flag = kebab-case of key; env = UCW_ + SNAKE_CASE. */
export const OPTIONS: readonly OptionDef[] = [
  {
    key: 'mysqlUrl',
    type: 'string',
    secret: true,
    describe:
      'Source server, mysql://USER:PASSWORD@HOST:PORT/ (the bridge user; ' +
      'read-only grants suffice); ?socket=/path for a unix socket. Prefer ' +
      '--mysql-url-file or the environment: argv is visible to every local user',
  },
  {
    key: 'mysqlUrlFile',
    type: 'string',
    describe:
      'File holding the source server URL instead of --mysql-url (trailing newline ' +
      'trimmed), e.g. a Docker/Kubernetes secret; refused when group/world-readable',
  },
  {
    key: 'stateDir',
    type: 'string',
    describe: 'Directory of the durable outbox and checkpoint (SQLite); one per bridge',
  },
  {
    key: 'rules',
    type: 'string',
    describe: 'Rules file (JSON or YAML) replacing the default rules for the reference uContact schema',
  },
  {
    key: 'serverId',
    type: 'number',
    describe:
      'Replica server id the bridge uses on the binlog connection; unique among the ' +
      'servers, replicas and bridges of the source. Unset, each state directory draws ' +
      'one random id in 2147483648-4294967295 once and keeps it (logged at start)',
  },
  {
    key: 'signingSecret',
    type: 'array',
    secret: true,
    describe:
      'Standard Webhooks signing secret (whsec_<base64> or plain text); ' +
      'repeat for key rotation. Prefer --signing-secret-file or the environment',
  },
  {
    key: 'signingSecretFile',
    type: 'string',
    describe:
      'File of signing secrets, one a line (several = key rotation, each ' +
      'signs), instead of --signing-secret; must not be group/world-readable',
  },
  { key: 'timezone', type: 'string', describe: 'Time zone of `date` and other times in payloads (IANA name)' },
  { key: 'httpHost', type: 'string', describe: 'Address of the /healthz, /readyz and /metrics endpoint' },
  {
    key: 'httpPort',
    type: 'number',
    describe: 'Port of the /healthz, /readyz and /metrics endpoint (0 = any free port)',
  },
  {
    key: 'adminToken',
    type: 'string',
    secret: true,
    describe:
      'Bearer token of the admin API and status page on the health port: required when --http-host ' +
      'is not a loopback address; prefer --admin-token-file (argv is visible to every local user)',
  },
  {
    key: 'adminTokenFile',
    type: 'string',
    describe: 'File holding --admin-token (trailing newline trimmed); refused when group/world-readable',
  },
  {
    key: 'logLevel',
    type: 'string',
    describe: 'Log level: fatal, error, warn, info, debug, trace or silent (payloads are only logged at debug)',
  },
  {
    key: 'bodyFormat',
    type: 'string',
    describe:
      'Body of every POST: ucontact (flat uContact JSON) or envelope (Id/CreationDateUtc/Category/Code/Event/Data)',
  },
  {
    key: 'envelopeUrlPrefix',
    type: 'array',
    describe:
      'Deprecated (warns UCW_WARN_CONFIG_DEPRECATED): URLs starting with this prefix get the envelope body; ' +
      'use a receivers entry with urlPrefix and bodyFormat: envelope (receiver-settings.md); repeatable',
  },
  { key: 'ceSource', type: 'string', describe: 'Value of the CloudEvents ce-source header' },
  {
    key: 'heartbeatSeconds',
    type: 'number',
    describe:
      'Server heartbeat period on an idle binlog; no event for 3 periods means the stream is dead and it is reopened',
  },
  {
    key: 'maxQueuedRows',
    type: 'number',
    describe: 'Pause reading the binlog while this many decoded rows wait to be processed',
  },
  {
    key: 'outboxSync',
    type: 'string',
    describe: 'SQLite synchronous mode: normal (survives process crashes) or full (also power loss)',
  },
  {
    key: 'deliveredRetentionHours',
    type: 'number',
    describe:
      'How long delivered deliveries stay in the state store (for `deliveries show`, replay and audit) ' +
      'before they are pruned (dead and cancelled ones stay: see --max-dead-rows)',
  },
  {
    key: 'maxDeadRows',
    type: 'number',
    describe:
      'Most dead and cancelled deliveries kept (until retried or discarded); beyond it the oldest are ' +
      'deleted, counted in ucw_dead_rows_pruned_total (0: none kept)',
  },
  { key: 'connectTimeoutMs', type: 'number', describe: 'HTTP connect timeout per attempt' },
  {
    key: 'requestTimeoutMs',
    type: 'number',
    describe: 'HTTP total timeout per attempt (connect + headers + bounded body)',
  },
  { key: 'maxResponseBytes', type: 'number', describe: 'Most bytes of a response body the bridge reads' },
  {
    key: 'concurrencyPerUrl',
    type: 'number',
    describe: 'Parallel requests (connections) per URL, within --concurrency-total; per agent or interaction: one',
  },
  {
    key: 'concurrencyTotal',
    type: 'number',
    describe: 'Parallel requests (connections) of all URLs together; URLs held back by it take turns',
  },
  { key: 'maxAttempts', type: 'number', describe: 'Attempts per delivery before it is dead-lettered' },
  { key: 'maxAgeMs', type: 'number', describe: 'No retry later than this after the first attempt; then dead-lettered' },
  { key: 'retryBaseMs', type: 'number', describe: 'First retry delay; doubles per attempt, with jitter' },
  { key: 'retryMaxMs', type: 'number', describe: 'Cap of the retry delay' },
  { key: 'maxRetryAfterMs', type: 'number', describe: "Cap on a receiver's Retry-After" },
  {
    key: 'reconnectMinMs',
    type: 'number',
    describe: 'First delay before reconnecting to the source; doubles per failure',
  },
  { key: 'reconnectMaxMs', type: 'number', describe: 'Cap of the reconnect delay' },
  {
    key: 'shutdownGraceMs',
    type: 'number',
    describe: 'On SIGTERM, how long in-flight deliveries may finish (the rest stay pending)',
  },
  {
    key: 'maxOutboxPending',
    type: 'number',
    describe:
      'Pause reading the binlog (never drop) while this many deliveries that can drain are pending ' +
      '(those of failing or paused URLs count against --max-outbox-bytes instead); resume below it',
  },
  {
    key: 'gonePauseMs',
    type: 'number',
    describe: 'A URL that answered 410 Gone is paused this long (its events stay pending), then probed again',
  },
  {
    key: 'blockPrivateNetworks',
    type: 'boolean',
    describe:
      'Also refuse to deliver to private and loopback addresses (link-local, ' +
      'metadata, multicast, reserved and unspecified addresses are always refused)',
  },
  {
    key: 'caFile',
    type: 'string',
    describe: 'PEM file of extra CA certificates trusted for https receivers (the system CAs stay trusted)',
  },
  {
    key: 'resetToNow',
    type: 'boolean',
    describe:
      'Start at the current end of the binlog, skipping what the checkpoint ' +
      'had not reached (logged); for a purged or foreign checkpoint',
  },
  {
    key: 'maxOutboxBytes',
    type: 'number',
    describe:
      'Pause reading the binlog (never drop) while the outbox store takes this ' +
      'many bytes: the disk budget of the backlogs of failing and paused URLs',
  },
  {
    key: 'maxBufferedBytes',
    type: 'number',
    describe:
      'Memory for deliveries waiting to be sent, all URLs together, shared fairly (each URL may use its ' +
      'share, or more while others leave it unused); the rest wait in the outbox store and are read back in order',
  },
];

function fromText(def: OptionDef, text: string): unknown {
  if (def.type === 'number') return text.trim() === '' ? undefined : Number(text);
  if (def.type === 'boolean') {
    const t = text.trim().toLowerCase();
    return t === 'true' || t === '1' || t === 'yes' ? true : t === 'false' || t === '0' || t === 'no' ? false : text;
  }
  if (def.type === 'array')
    return text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return text;
}

export interface ConfigSources {
  /** Parsed CLI flags, keyed by config key; undefined = not given. */
  readonly cli: Partial<Record<ConfigKey, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of a JSON/YAML config file (from --config or UCW_CONFIG). */
  readonly configFile?: string | undefined;
  /** Told of what is accepted but worth a warning (logged once a logger exists). */
  readonly onWarning?: (w: ConfigWarning) => void;
}

/** An option given but deprecated: it still works, and says what replaces it. */
export interface DeprecatedOptionWarning {
  readonly code: 'UCW_WARN_CONFIG_DEPRECATED';
  readonly option: string;
  readonly use: string;
}

/** A URL's concurrency (the default or a receivers entry's) above --concurrency-total, which caps it. */
export interface ConcurrencyAboveTotalWarning {
  readonly code: 'UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL';
  /** `--concurrency-per-url`, or the receivers entry's path such as `receivers[2].concurrency`. */
  readonly option: string;
  readonly concurrency: number;
  readonly total: number;
}

/** What loading accepts but warns about (each with a UCW_WARN_ code; never a secret). */
export type ConfigWarning =
  SecretFileWarning | ShortSecretWarning | DeprecatedOptionWarning | ConcurrencyAboveTotalWarning;

/** The log message of a config warning. */
export function configWarningMessage(w: ConfigWarning): string {
  if (w.code === 'UCW_WARN_SECRET_FILE_GROUP')
    return 'secret file is readable by its group (Kubernetes fsGroup); make sure only the bridge is in that group';
  if (w.code === 'UCW_WARN_CONFIG_SHORT_SECRET')
    return `signing secret at ${w.path} is ${w.bytes} bytes; use at least 24 random bytes (whsec_ + base64 of 32)`;
  if (w.code === 'UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL')
    return `${w.option} is ${w.concurrency} but --concurrency-total is ${w.total}: at most ${w.total} run at once`;
  return `${w.option} is deprecated; use ${w.use}`;
}

/** Where an option's value came from; `via`: the secret was read from the file this option names. */
export interface ValueOrigin {
  readonly source: 'default' | 'file' | 'env' | 'flag';
  readonly via?: ConfigKey;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly origins: Readonly<Partial<Record<ConfigKey | 'receivers', ValueOrigin>>>;
}

export function loadConfig(sources: ConfigSources): Config {
  return loadConfigWithOrigins(sources).config;
}

/** As loadConfig, and where each value came from (for `config print`). `mysqlUrlOptional`: may be unset. */
export function loadConfigWithOrigins(sources: ConfigSources, opts: { mysqlUrlOptional?: boolean } = {}): LoadedConfig {
  const merged: Record<string, unknown> = {};
  const origins: Partial<Record<ConfigKey | 'receivers', ValueOrigin>> = {};
  if (sources.configFile) {
    const fromFile = readConfigFile(sources.configFile);
    Object.assign(merged, fromFile);
    for (const key of Object.keys(fromFile)) origins[key as ConfigKey] = { source: 'file' };
  }
  for (const def of OPTIONS) {
    const raw = sources.env[envName(def.key)];
    if (raw !== undefined && raw !== '') {
      merged[def.key] = fromText(def, raw);
      origins[def.key] = { source: 'env' };
    }
  }
  for (const def of OPTIONS) {
    const v = sources.cli[def.key];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    merged[def.key] = def.type === 'array' ? [v].flat().map(String) : v;
    origins[def.key] = { source: 'flag' };
  }
  for (const [value, file] of [
    ['mysqlUrl', 'mysqlUrlFile'],
    ['signingSecret', 'signingSecretFile'],
  ] as const) {
    const o = origins[file];
    if (o && typeof merged[file] === 'string' && merged[file] !== '') origins[value] = { source: o.source, via: file };
  }
  resolveSecretFiles(merged, sources.onWarning);
  const schema = opts.mysqlUrlOptional ? fileSchema.extend({ mysqlUrl: z.string().min(1).optional() }) : fileSchema;
  const parsed = schema.safeParse(merged);
  const lines = parsed.success ? [] : parsed.error.issues.map(problemLine);
  lines.push(...duplicateProblems(merged.receivers));
  // The references are read once the section's shape is right, even if other options are not.
  const section = receiversSchema.safeParse(merged.receivers);
  let receivers: ReceiverEntry[] = [];
  if (section.success) {
    const resolved = resolveReceivers(section.data, sources.env, sources.onWarning);
    lines.push(...resolved.problems);
    receivers = resolved.receivers;
  }
  if (!parsed.success || lines.length > 0) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${lines.join('\n  - ')}`, {
      hint: 'Run `ucontact-webhooks run --help` for every option; receivers: docs/receivers.md.',
      details: { problems: lines },
    });
  }
  if (!isLoopbackHost(parsed.data.httpHost) && parsed.data.adminToken === undefined) {
    throw new BridgeError(
      'UCW_ERR_CONFIG_INVALID',
      `--http-host ${parsed.data.httpHost} is not a loopback address and no --admin-token is set`,
      {
        hint:
          'The admin API and status page would be open to the network: set --admin-token-file ' +
          '(or UCW_ADMIN_TOKEN), or keep --http-host 127.0.0.1.',
        details: { problems: ['--http-host (UCW_HTTP_HOST): needs --admin-token when not loopback'] },
      },
    );
  }
  for (const w of shortSecretWarnings(parsed.data.signingSecret, 'signingSecret')) sources.onWarning?.(w);
  if (parsed.data.envelopeUrlPrefix.length > 0)
    sources.onWarning?.({
      code: 'UCW_WARN_CONFIG_DEPRECATED',
      option: '--envelope-url-prefix',
      use: 'a receivers entry with urlPrefix and bodyFormat: envelope (docs/receivers.md)',
    });
  const total = parsed.data.concurrencyTotal;
  const concurrencies: Array<[string, number | undefined]> = [
    ['--concurrency-per-url', parsed.data.concurrencyPerUrl],
    ...receivers.map((r, i): [string, number | undefined] => [`receivers[${i}].concurrency`, r.concurrency]),
  ];
  for (const [option, concurrency] of concurrencies)
    if (concurrency !== undefined && concurrency > total)
      sources.onWarning?.({ code: 'UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL', option, concurrency, total });
  for (const def of OPTIONS) origins[def.key] ??= { source: 'default' };
  origins.receivers ??= { source: 'default' };
  const config = Object.freeze({ ...parsed.data, receivers: Object.freeze(receivers) }) as Config;
  return { config, origins: Object.freeze(origins) };
}

/** One zod issue as a line naming the option (flag and variable) or the config file path. */
function problemLine(i: z.core.$ZodIssue): string {
  const key = String(i.path[0] ?? '');
  const def = OPTIONS.find((o) => o.key === key);
  const name = def ? `--${flagName(key)} (${envName(key)})` : i.path.length > 0 ? pathText(i.path) : '(config)';
  return `${name}: ${i.message}`;
}

function readConfigFile(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    value = parseJsonOrYaml(text);
  } catch (err) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `cannot read config file ${path}: ${(err as Error).message}`, {
      hint: 'Pass a JSON or YAML file whose keys are the camelCase option names (see docs/configuration.md).',
      cause: err,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `config file ${path} must hold an object`, {
      hint: 'Use keys such as mysqlUrl, stateDir, httpPort.',
    });
  }
  return value as Record<string, unknown>;
}
