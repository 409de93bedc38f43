// Renders docs/configuration.md from the option table (flag, environment variable, description) and
// the zod schema (defaults, ranges, allowed values): the doc has no second list to fall out of date.
// Pure: `npm run docs:config` writes its result, and a unit test fails when the file differs.

import type { z } from 'zod';
import { configSchema, OPTIONS, type ConfigKey } from './config.js';
import { envName, flagName } from './option-names.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

type Unwrappable = { unwrap: () => z.ZodType };
type Checked = z.ZodType & { minValue?: number | null; maxValue?: number | null; options?: readonly string[] };

/** The schema of one option with its default/optional wrappers removed. */
function innerSchema(key: ConfigKey): Checked {
  let s = configSchema.shape[key] as z.ZodType;
  while (s.def.type === 'default' || s.def.type === 'optional') s = (s as unknown as Unwrappable).unwrap();
  return s;
}

/** A number as written, with a reading aid for large durations and sizes. */
function formatNumber(key: ConfigKey, n: number): string {
  if (key.endsWith('Ms') && n > DAY_MS && n % DAY_MS === 0) return `${n} (${n / DAY_MS} days)`;
  if (key.endsWith('Ms') && n >= HOUR_MS && n % HOUR_MS === 0) return `${n} (${n / HOUR_MS} h)`;
  if (key.endsWith('Ms') && n >= 60_000 && n % 60_000 === 0) return `${n} (${n / 60_000} min)`;
  if (key.endsWith('Bytes') && n >= GIB && n % GIB === 0) return `${n} (${n / GIB} GiB)`;
  if (key.endsWith('Bytes') && n >= MIB && n % MIB === 0) return `${n} (${n / MIB} MiB)`;
  if (key.endsWith('Bytes') && n >= 1024 && n % 1024 === 0) return `${n} (${n / 1024} KiB)`;
  return String(n);
}

/** The default the schema fills in when the option is not given. */
function defaultOf(key: ConfigKey): string {
  const parsed = configSchema.shape[key].safeParse(undefined);
  if (!parsed.success) return '(required)';
  const v: unknown = parsed.data;
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return 'none';
  if (typeof v === 'number') return formatNumber(key, v);
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
}

/** Allowed values or range, from the schema's checks. */
function rangeOf(key: ConfigKey): string {
  const s = innerSchema(key);
  if (s.def.type === 'enum') return (s.options ?? []).map((o) => `\`${o}\``).join(', ');
  if (s.def.type !== 'number') return '';
  const lo = s.minValue ?? null;
  // zod reports "no maximum" of an int as MAX_SAFE_INTEGER and of a float as Infinity.
  const max = s.maxValue ?? Number.MAX_SAFE_INTEGER;
  const hi = Number.isSafeInteger(max) && max < Number.MAX_SAFE_INTEGER ? max : null;
  if (lo !== null && hi !== null) return `${formatNumber(key, lo)} to ${formatNumber(key, hi)}`;
  if (lo !== null) return `at least ${formatNumber(key, lo)}`;
  return hi !== null ? `at most ${formatNumber(key, hi)}` : '';
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

const PREAMBLE = `# Configuration reference

<!-- Generated from src/config/config.ts by \`npm run docs:config\`; do not edit by hand. -->

Every option of \`ucontact-webhooks run\` can be given four ways. Precedence: defaults < config file
(\`--config FILE\` or \`UCW_CONFIG\`, JSON or YAML with the camelCase keys below) < \`UCW_*\`
environment variables < command-line flags. \`ucontact-webhooks run --help\` lists them all.

- A list option takes a comma-separated list in the environment and repeats on the command line.
- A boolean option in the environment is \`true\`/\`1\`/\`yes\` or \`false\`/\`0\`/\`no\`.
- Secrets (\`--mysql-url\`, \`--signing-secret\`) belong in files (\`--mysql-url-file\`,
  \`--signing-secret-file\`) or the environment, never on the command line: every local user sees
  argv in \`ps\`. A secret file readable by its group or other users is refused.
- A value out of its range is refused at start with \`UCW_ERR_CONFIG_INVALID\` naming the flag and
  its environment variable (exit 2). Delays of the delivery schedule are at most 30 days (its timers
  wait in steps); timeouts set as one Node.js timer are at most 2147483647 ms (about 24.8 days).
- Per-receiver settings (a secret, rate limit, timeouts, concurrency, static headers, body format
  and retry budget for each receiver) go in the config file's \`receivers\` section:
  [receiver-settings.md](receiver-settings.md).
`;

const COMMANDS =
  `## Other commands

| command | what it does | while a bridge runs on DIR |
|---|---|---|
| \`ucontact-webhooks config print [--config FILE] [options of run]\` | prints ` +
  `the resolved configuration as JSON, each value with where it came from (default, file, env, ` +
  `flag), secrets redacted; with a source server, each registered URL and the receivers entry it ` +
  `gets ([receiver-settings.md](receiver-settings.md)) | safe: reads the webhooks table only |
| \`ucontact-webhooks rules print-default\` | prints the default rules ` +
  `as JSON: the starting point for another schema | safe (no state) |
| \`ucontact-webhooks rules check [FILE]\` | validates a rules file (or ` +
  `the defaults); exit 0, or every problem and exit 2 | safe (no state) |
| \`ucontact-webhooks check [--rules FILE] [--json] [--probe]\` | checks ` +
  `the source server, its binlog settings, the user's grants, the rules against the live ` +
  `schema and every registration (with \`--probe\`, that each URL answers); exit 0 when ` +
  `the bridge can run, 1 when it cannot ([operations.md](operations.md#check-before-the-first-start)) ` +
  `| safe (no state; only SELECT and SHOW on the source) |
| \`ucontact-webhooks status --state-dir DIR [--mysql-url URL] [--json]\` | ` +
  `checkpoint, lag, retention headroom, each URL's backlog and state, the latest dead letters ` +
  `([operations.md](operations.md#status-where-a-bridge-stands)) | safe: asks the running bridge's ` +
  `admin API, else reads the store read-only |
| \`ucontact-webhooks deliveries list\\|show\\|retry\\|discard\\|resume --state-dir DIR ...\` | ` +
  `lists and shows deliveries (filters: URL, event, state, time), requeues dead or cancelled ones with ` +
  `their ids, discards a URL's backlog (kept as \`cancelled\`), resumes a paused URL: ` +
  `[operations.md](operations.md#deliveries) | \`list\`, \`show\`: safe, read-only; the others go ` +
  `through the bridge's admin API (with no bridge running they take the lock) |
| \`ucontact-webhooks dead-letters list\\|retry --state-dir DIR\` | deprecated: ` +
  `\`deliveries list --state dead --json\`, \`deliveries retry\` (prints a notice on standard error) ` +
  `| as \`deliveries\` |
| \`ucontact-webhooks replay --state-dir DIR --from POINT [--to POINT] [--rule ID] [--url URL] ` +
  `[--dry-run] [--force] [--json]\` | regenerates events from the binlog with their first ids and enqueues ` +
  `those never delivered to a URL ([operations.md](operations.md#replay-sending-events-again)) | goes through ` +
  `the bridge's admin API (POST /api/replay); without a bridge it takes the lock and writes the store |
| \`ucontact-webhooks run --state-dir DIR\` | the bridge | refused ` +
  `with \`UCW_ERR_STATE_LOCKED\` (exit 1): one bridge per state directory |

Exit codes of \`run\`: 0 after SIGTERM/SIGINT (clean stop), 1 on a fatal error, 2 on invalid
configuration or rules.
`;

/** The whole of docs/configuration.md. */
export function renderConfigurationDoc(): string {
  const rows = OPTIONS.map((o) => {
    const range = rangeOf(o.key);
    const cells = [`\`--${flagName(o.key)}\``, `\`${envName(o.key)}\``, defaultOf(o.key), range, o.describe];
    return `| ${cells.map(cell).join(' | ')} |`;
  });
  const table = ['| flag | environment | default | allowed | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
  return `${PREAMBLE}\n## Options of \`run\`\n\n${table}\n\n${COMMANDS}`;
}
