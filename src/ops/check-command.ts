// The `check` command's flags and handler, so cli.ts only registers it. The source URL and the rules
// come as `run` takes them: --mysql-url / --mysql-url-file or UCW_MYSQL_URL / UCW_MYSQL_URL_FILE
// (flags win; a secret file readable by others is refused), --rules or UCW_RULES.

import type { Argv } from 'yargs';
import { VERSION } from '../app.js';
import { resolveSecretFiles } from '../config/secret-file.js';
import { BridgeError } from '../errors.js';
import { defaultRules, loadRulesFile } from '../rules/load.js';
import { parseMysqlUrl } from '../source/connection.js';
import { runChecks } from './check.js';
import { exitCodeOf, renderJson, renderText } from './check-render.js';

export const CHECK_DESCRIPTION =
  'Check whether the bridge can run against a server (settings, grants, rules, registrations); ' +
  'exit 0 when it can, 1 when it cannot';

const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

export function checkOptions<T>(y: Argv<T>) {
  return y
    .option('mysql-url', {
      type: 'string',
      describe: 'Source server, mysql://USER:PASSWORD@HOST:PORT/ [env: UCW_MYSQL_URL]; prefer --mysql-url-file',
    })
    .option('mysql-url-file', {
      type: 'string',
      describe: 'File holding the source server URL (not readable by others) [env: UCW_MYSQL_URL_FILE]',
    })
    .option('rules', { type: 'string', describe: 'Rules file to check; the default rules otherwise [env: UCW_RULES]' })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print {checks: [{name, status, code?, message, hint?}]}',
    })
    .option('probe', { type: 'boolean', default: false, describe: 'Also send one HEAD request to each registered URL' })
    .option('probe-timeout-ms', { type: 'number', default: DEFAULT_PROBE_TIMEOUT_MS, describe: 'Budget of one probe' })
    .option('block-private-networks', {
      type: 'boolean',
      describe: 'Probe as a bridge with --block-private-networks would [env: UCW_BLOCK_PRIVATE_NETWORKS]',
    })
    .option('ca-file', { type: 'string', describe: 'Extra CA certificates for https probes [env: UCW_CA_FILE]' });
}

export interface CheckArgv {
  readonly 'mysql-url'?: string | undefined;
  readonly 'mysql-url-file'?: string | undefined;
  readonly rules?: string | undefined;
  readonly json: boolean;
  readonly probe: boolean;
  readonly 'probe-timeout-ms': number;
  readonly 'block-private-networks'?: boolean | undefined;
  readonly 'ca-file'?: string | undefined;
}

/** The source URL from the flags, else the environment, as `run` reads it. */
function mysqlUrl(argv: CheckArgv, env: NodeJS.ProcessEnv): string {
  const merged: Record<string, unknown> = {};
  const flagGiven = argv['mysql-url'] !== undefined || argv['mysql-url-file'] !== undefined;
  if (flagGiven) {
    merged.mysqlUrl = argv['mysql-url'];
    merged.mysqlUrlFile = argv['mysql-url-file'];
  } else {
    merged.mysqlUrl = env.UCW_MYSQL_URL || undefined;
    merged.mysqlUrlFile = env.UCW_MYSQL_URL_FILE || undefined;
  }
  resolveSecretFiles(merged);
  if (typeof merged.mysqlUrl !== 'string' || merged.mysqlUrl === '') {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--mysql-url or --mysql-url-file is required', {
      hint: 'Pass the URL the bridge uses (or set UCW_MYSQL_URL / UCW_MYSQL_URL_FILE).',
    });
  }
  return merged.mysqlUrl;
}

/** Runs every check, prints them, and returns the exit code (0 can run, 1 cannot). */
export async function checkCommand(argv: CheckArgv, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const conn = parseMysqlUrl(mysqlUrl(argv, env));
  const timeoutMs = argv['probe-timeout-ms'];
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--probe-timeout-ms must be a positive whole number', {
      hint: `Pass milliseconds, e.g. --probe-timeout-ms ${DEFAULT_PROBE_TIMEOUT_MS}.`,
    });
  }
  const rulesPath = argv.rules ?? (env.UCW_RULES || undefined);
  const blockPrivate = argv['block-private-networks'] ?? ['1', 'true'].includes(env.UCW_BLOCK_PRIVATE_NETWORKS ?? '');
  const results = await runChecks({
    conn,
    rules: {
      origin: rulesPath ?? 'default rules',
      load: () => (rulesPath === undefined ? defaultRules() : loadRulesFile(rulesPath)),
    },
    probe: argv.probe
      ? {
          timeoutMs,
          blockPrivateNetworks: blockPrivate,
          caFile: argv['ca-file'] ?? (env.UCW_CA_FILE || undefined),
          userAgent: `ucontact-webhooks/${VERSION} (check)`,
        }
      : undefined,
  });
  process.stdout.write(argv.json ? renderJson(results) : renderText(results));
  return exitCodeOf(results);
}
