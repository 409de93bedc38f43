#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=4 --heap-growing-percent=25 --v8-pool-size=1 --single-threaded-gc
// The `ucontact-webhooks` command: yargs parses argv, config/ validates it, app.ts runs it.
// Exit codes: 0 clean stop, 1 fatal runtime error, 2 invalid configuration or rules.
// The first line keeps memory flat and leaves the cores to the bridge's two threads: a small young generation,
// a slowly grown old one, one V8 helper thread, garbage collection on the allocating thread, two malloc arenas.
// Why each flag: docs/operations.md, "Memory and threads"; the figures: bench/RESULTS.md.

import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startBridge, VERSION } from './app.js';
import { loadConfig, OPTIONS, type ConfigKey } from './config/config.js';
import type { SecretFileWarning } from './config/secret-file.js';
import { envName, flagName } from './config/option-names.js';
import { BridgeError, isBridgeError } from './errors.js';
import { createLogger } from './logger.js';
import { StateStore } from './outbox/state-store.js';
import { DEFAULT_RULES } from './rules/default-rules.js';
import { defaultRules, loadRulesFile } from './rules/load.js';
import { safeUrl } from './safe-url.js';

const EXIT_FATAL = 1;
const EXIT_CONFIG = 2;

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
  const warnings: SecretFileWarning[] = [];
  const config = loadConfig({
    cli: cliValues(argv),
    env: process.env,
    configFile: (argv.config as string | undefined) ?? process.env.UCW_CONFIG,
    onWarning: (w) => warnings.push(w),
  });
  const logger = createLogger(config.logLevel);
  for (const w of warnings)
    logger.warn(
      w,
      'secret file is readable by its group (Kubernetes fsGroup); make sure only the bridge is in that group',
    );
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

/**
 * `readonly`: reads beside a running bridge, changing nothing. Otherwise the command takes the state
 * directory's lock, so it refuses (UCW_ERR_STATE_LOCKED) while a bridge runs there.
 */
function openStore(stateDir: string | undefined, readonly: boolean): StateStore {
  if (!stateDir) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--state-dir is required', {
      hint: 'Pass the --state-dir of the bridge.',
    });
  }
  return new StateStore({ stateDir, synchronous: 'full', readonly });
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
    .demandCommand(1, 'Name a command: run, rules, dead-letters, deliveries')
    .command(
      'run',
      'Follow the source binlog and deliver webhook events (until SIGTERM/SIGINT)',
      (y) => withRunOptions(y),
      (argv) => setExit(run(argv as Record<string, unknown>)),
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
    .command('dead-letters', 'Inspect (any time) and requeue (bridge stopped) dead-lettered deliveries', (y) =>
      y
        .option('state-dir', {
          type: 'string',
          describe: 'the bridge state directory [env: UCW_STATE_DIR]',
          default: process.env.UCW_STATE_DIR,
        })
        .command(
          'list',
          'List dead letters as JSON lines (read-only: safe while the bridge runs)',
          (yy) => yy.option('limit', { type: 'number', default: 100 }),
          (argv) =>
            setExit(() => {
              const outbox = openStore(argv['state-dir'], true);
              try {
                // The URL as logs show it: its token or credentials stay out of terminals and tickets.
                for (const d of outbox.deadLetters(argv.limit))
                  process.stdout.write(`${JSON.stringify({ ...d, url: safeUrl(d.url) })}\n`);
              } finally {
                outbox.close();
              }
              return 0;
            }),
        )
        .command(
          'retry',
          'Give dead letters a fresh retry budget (all, or --id ' +
            '...); refused while a bridge runs on the state directory',
          (yy) => yy.option('id', { type: 'number', array: true, describe: 'delivery ids (from `list`)' }),
          (argv) =>
            setExit(() => {
              const outbox = openStore(argv['state-dir'], false);
              try {
                const n = outbox.requeueDead(argv.id);
                process.stdout.write(`requeued ${n} deliveries\n`);
              } finally {
                outbox.close();
              }
              return 0;
            }),
        )
        .demandCommand(1),
    )
    .command('deliveries', "Act on a URL's deliveries in the state store (refused while a bridge runs on it)", (y) =>
      y
        .option('state-dir', {
          type: 'string',
          describe: 'the bridge state directory [env: UCW_STATE_DIR]',
          default: process.env.UCW_STATE_DIR,
        })
        .command(
          'discard',
          'Cancel every pending delivery of --url on purpose (a receiver gone for good): kept as cancelled, never sent',
          (yy) =>
            yy.option('url', {
              type: 'string',
              describe: 'the registered URL, exactly as in the webhooks table (required)',
            }),
          (argv) =>
            setExit(() => {
              // Checked here, before the store is opened: yargs runs a nested command's handler
              // before its demandOption check.
              if (!argv.url)
                throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--url is required', {
                  hint: 'Name the URL whose backlog to discard, exactly as registered.',
                });
              const outbox = openStore(argv['state-dir'], false);
              try {
                const n = outbox.discardPending(argv.url);
                process.stdout.write(
                  `discarded ${n} pending deliveries of ${safeUrl(argv.url)} (kept as cancelled, never sent)\n`,
                );
              } finally {
                outbox.close();
              }
              return 0;
            }),
        )
        .demandCommand(1),
    )
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`${msg}\n\nRun with --help for usage.\n`);
      exitCode = EXIT_CONFIG;
    })
    .help();
  try {
    await parser.parseAsync();
  } catch (err) {
    return report(err);
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
