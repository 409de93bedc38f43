// The `replay` command's flags and handler (cli.ts holds only its .command() block): the source, state
// dir, rules and time zone options read as `run` reads them (flags, UCW_* environment, --config file),
// plus the replay's own.

import type { Argv } from 'yargs';
import { loadConfig, OPTIONS, type ConfigKey } from '../config/config.js';
import { envName, flagName } from '../config/option-names.js';
import { BridgeError } from '../errors.js';
import { runReplay } from './replay.js';

/** Options of `run` that `replay` reads too (the others come from the environment or --config if set). */
const SHARED: readonly ConfigKey[] = ['mysqlUrl', 'mysqlUrlFile', 'stateDir', 'rules', 'timezone'];

export function replayOptions<T>(y: Argv<T>) {
  let out: Argv<T> = y.option('config', {
    type: 'string',
    describe: 'JSON or YAML file of options (camelCase keys) [env: UCW_CONFIG]',
  });
  for (const def of OPTIONS.filter((d) => SHARED.includes(d.key))) {
    out = out.option(flagName(def.key), { type: 'string', describe: `${def.describe} [env: ${envName(def.key)}]` });
  }
  return out
    .option('from', {
      type: 'string',
      describe:
        'Required. Where to start: file:pos (a transaction boundary), a MariaDB GTID d-s-n (from its transaction), ' +
        'or a time (ISO, e.g. 2026-11-30T15:00:00Z; without offset in --timezone)',
    })
    .option('to', {
      type: 'string',
      describe:
        'Where to stop (same forms; inclusive for a GTID or time). Default: the binlog end when the replay ' +
        "starts, never past the bridge's checkpoint",
    })
    .option('rule', { type: 'string', describe: "Only this rule's events (its id in the rules)" })
    .option('url', { type: 'string', describe: 'Only this registered URL (exactly as the webhooks table has it)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would be enqueued; change nothing' })
    .option('force', {
      type: 'boolean',
      default: false,
      describe: 'Enqueue every regenerated event, even those delivered or pending',
    })
    .option('json', { type: 'boolean', default: false, describe: 'JSON lines on stdout instead of a table' });
}

export async function replayCommand(argv: Record<string, unknown>): Promise<number> {
  // Checked here rather than by yargs' demandOption: the error gets its code and hint.
  if (typeof argv.from !== 'string' || argv.from === '') {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--from is required', {
      hint: 'Give where to start: file:pos, a MariaDB GTID (d-s-n) or a time (2026-11-30T15:00:00Z).',
    });
  }
  const cli: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of SHARED) cli[key] = argv[flagName(key)];
  const config = loadConfig({
    cli,
    env: process.env,
    configFile: (argv.config as string | undefined) ?? process.env.UCW_CONFIG,
  });
  await runReplay(
    config,
    {
      from: String(argv.from),
      to: argv.to as string | undefined,
      rule: argv.rule as string | undefined,
      url: argv.url as string | undefined,
      dryRun: argv['dry-run'] === true,
      force: argv.force === true,
      json: argv.json === true,
    },
    {
      out: (t) => void process.stdout.write(t),
      err: (t) => void process.stderr.write(t),
      tty: process.stderr.isTTY === true,
      now: Date.now,
    },
  );
  return 0;
}
