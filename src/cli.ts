#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=4 --heap-growing-percent=25 --v8-pool-size=1 --single-threaded-gc
// The `ucontact-webhooks` command: yargs parses argv, config/ validates it, app.ts runs it.
// Exit codes: 0 clean stop, 1 fatal runtime error, 2 invalid configuration or rules.
// The first line keeps memory flat and leaves the cores to the bridge's two threads: a small young generation,
// a slowly grown old one, one V8 helper thread, garbage collection on the allocating thread, two malloc arenas.
// Why each flag: docs/operations.md, "Memory and threads"; the figures: bench/RESULTS.md.

import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startBridge, VERSION } from './app.js';
import { configWarningMessage, loadConfig, OPTIONS, type ConfigKey, type ConfigWarning } from './config/config.js';
import { envName, flagName } from './config/option-names.js';
import { isBridgeError } from './errors.js';
import { createLogger } from './logger.js';
import { deadLettersCommand, deliveriesCommand } from './ops/deliveries-cli.js';
import { printConfig } from './ops/config-print.js';
import { DEFAULT_RULES } from './rules/default-rules.js';
import { defaultRules, loadRulesFile } from './rules/load.js';
import { checkCommand, checkOptions, CHECK_DESCRIPTION } from './ops/check-command.js';
import { readStatus } from './ops/status-command.js';
import { renderStatusText } from './ops/status-text.js';
import { replayCommand, replayOptions } from './ops/replay-cli.js';

const EXIT_FATAL = 1;
const EXIT_CONFIG = 2;

/** Bad usage found by yargs (an unknown option, a missing command): its message, exit 2. */
class UsageError extends Error {}

function withRunOptions<T>(y: Argv<T>): Argv<T> {
  let out: Argv<T> = y.option('config', {
    type: 'string',
    describe: 'JSON or YAML file of options (camelCase keys) [env: UCW_CONFIG]',
  });
  for (const def of OPTIONS) {
    out = out.option(flagName(def.key), {
      type: def.type,
      describe: `${def.describe} [env: ${envName(def.key)}]`,
      ...(def.type === 'array' ? { string: true } : {}),
    });
  }
  return out;
}

function cliValues(argv: Record<string, unknown>): Partial<Record<ConfigKey, unknown>> {
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const def of OPTIONS) out[def.key] = argv[def.key] ?? argv[flagName(def.key)];
  return out;
}

async function run(argv: Record<string, unknown>): Promise<number> {
  const warnings: ConfigWarning[] = [];
  const config = loadConfig({
    cli: cliValues(argv),
    env: process.env,
    configFile: (argv.config as string | undefined) ?? process.env.UCW_CONFIG,
    onWarning: (w) => warnings.push(w),
  });
  const logger = createLogger(config.logLevel);
  for (const w of warnings) logger.warn(w, configWarningMessage(w));
  let bridge: Awaited<ReturnType<typeof startBridge>>;
  try {
    bridge = await startBridge(config, logger);
  } catch (err) {
    logger.fatal({ code: isBridgeError(err) ? err.code : undefined, err }, 'bridge could not start');
    logger.flush();
    throw err;
  }
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const outcome = await Promise.race([stopSignal, bridge.done.then(() => 'done')]).catch((err: unknown) => err);
  if (typeof outcome === 'string') logger.info({ signal: outcome }, 'stopping');
  await bridge.stop();
  logger.info('stopped');
  logger.flush();
  if (outcome instanceof Error) throw outcome;
  return 0;
}

function report(err: unknown): number {
  if (isBridgeError(err)) {
    process.stderr.write(`ucontact-webhooks: ${err.toDisplayString()}\n`);
    return err.code.startsWith('UCW_ERR_CONFIG_') || err.code.startsWith('UCW_ERR_RULES_') ? EXIT_CONFIG : EXIT_FATAL;
  }
  process.stderr.write(
    `ucontact-webhooks: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return EXIT_FATAL;
}

/** The part of yargs' internals that skipHelpRendering replaces (not in its public types). */
interface YargsUsage {
  getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
}

/**
 * yargs renders a command's whole help as it calls the handler, in case the handler fails later
 * (about 200 ms of `run`'s start-up, for its many options). The handlers here never fail through yargs
 * (setExit catches), so that copy is never shown; --help renders its own. As angular/angular-cli#34087.
 * Internals: if a yargs release moves them, this does nothing rather than break every command.
 */
function skipHelpRendering(parser: Argv): void {
  const usage = (parser as unknown as YargsUsage).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export async function main(args: string[]): Promise<number> {
  let exitCode = 0;
  const setExit = (work: Promise<number> | (() => number)): Promise<void> =>
    (typeof work === 'function' ? Promise.resolve().then(work) : work).then(
      (code) => void (exitCode = code),
      (err: unknown) => void (exitCode = report(err)),
    );
  const parser = yargs(args)
    .scriptName('ucontact-webhooks')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'Name a command: run, config, rules, dead-letters, deliveries')
    .command(
      'run',
      'Follow the source binlog and deliver webhook events (until SIGTERM/SIGINT)',
      (y) => withRunOptions(y),
      (argv) => setExit(run(argv as Record<string, unknown>)),
    )
    .command('check', CHECK_DESCRIPTION, checkOptions, (argv) => setExit(checkCommand(argv)))
    .command('config', 'Inspect the configuration', (y) =>
      y
        .command(
          'print',
          'Print the resolved configuration as JSON (secrets redacted) with where each value came from; ' +
            'with a source server, each registered URL and the receivers entry it gets (read-only)',
          (yy) =>
            withRunOptions(yy).option('json', { type: 'boolean', default: true, describe: 'JSON (the only form)' }),
          (argv) =>
            setExit(
              printConfig({
                cli: cliValues(argv as Record<string, unknown>),
                env: process.env,
                configFile: (argv.config as string | undefined) ?? process.env.UCW_CONFIG,
              }),
            ),
        )
        .demandCommand(1),
    )
    .command('rules', 'Inspect rules files', (y) =>
      y
        .command(
          'print-default',
          'Print the default rules (JSON) as a starting point for a custom schema',
          (yy) => yy,
          () => {
            process.stdout.write(`${JSON.stringify(DEFAULT_RULES, null, 2)}\n`);
          },
        )
        .command(
          'check [file]',
          'Validate a rules file (or the defaults) and exit 0, or print every problem and exit 2',
          (yy) => yy.positional('file', { type: 'string', describe: 'rules file (JSON or YAML)' }),
          (argv) =>
            setExit(() => {
              const rules = argv.file ? loadRulesFile(argv.file) : defaultRules();
              process.stdout.write(
                `ok: ${rules.rules.length} rules, ${Object.keys(rules.directories).length} directories\n`,
              );
              return 0;
            }),
        )
        .demandCommand(1),
    )
    .command(
      'status',
      'Where the bridge stands: checkpoint, lag, retention headroom, each URL, dead letters (safe while it runs)',
      (y) =>
        y
          .option('state-dir', {
            type: 'string',
            describe: 'the bridge state directory [env: UCW_STATE_DIR]',
            default: process.env.UCW_STATE_DIR,
          })
          .option('mysql-url', {
            type: 'string',
            // No yargs default from the environment: --help would print the password.
            describe: 'source server to ask for lag and retention headroom when no bridge runs [env: UCW_MYSQL_URL]',
          })
          .option('json', { type: 'boolean', default: false, describe: 'print the snapshot as JSON' }),
      (argv) =>
        setExit(
          readStatus({ stateDir: argv['state-dir'], mysqlUrl: argv['mysql-url'] ?? process.env.UCW_MYSQL_URL }).then(
            (s) => {
              process.stdout.write(argv.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatusText(s));
              return 0;
            },
          ),
        ),
    )
    .command('dead-letters', 'Deprecated: use `deliveries list|retry`', (y) => deadLettersCommand(y, setExit))
    .command('deliveries', 'List, show, retry, discard deliveries and resume a URL (running bridge or not)', (y) =>
      deliveriesCommand(y, setExit),
    )
    .command(
      'replay',
      'Regenerate events from the binlog with their first ids; enqueue those never delivered to a URL',
      (y) => replayOptions(y),
      (argv) => setExit(replayCommand(argv as Record<string, unknown>)),
    )
    .fail((msg, err) => {
      // Thrown, not just printed: yargs runs the command after a fail handler that returns.
      throw err ?? new UsageError(msg);
    })
    .help();
  skipHelpRendering(parser);
  try {
    await parser.parseAsync();
  } catch (err) {
    if (!(err instanceof UsageError)) return report(err);
    process.stderr.write(`${err.message}\n\nRun with --help for usage.\n`);
    return EXIT_CONFIG;
  }
  return exitCode;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = report(err);
  },
);
