// The yargs definition of `deliveries list|show|retry|discard|resume` and of the deprecated
// `dead-letters list|retry` alias, kept out of cli.ts (one block there per command).

import type { Argv } from 'yargs';
import { BridgeError } from '../errors.js';
import { parseFilter, parseIds, type DeliveryFilter } from './deliveries-filter.js';
import { renderDetail, renderJsonLines, renderTable } from './deliveries-render.js';
import {
  actionLine,
  discardDeliveries,
  listDeadLetters,
  listDeliveries,
  resumeUrl,
  retryDeliveries,
  showDelivery,
} from './deliveries.js';

type SetExit = (work: Promise<number> | (() => number)) => Promise<void>;

interface Common {
  'state-dir'?: string;
  url?: string;
  event?: string;
  state?: string[];
  since?: string;
  until?: string;
  id?: Array<string | number>;
  json?: boolean;
}

const out = (text: string): void => void process.stdout.write(text);

function stateDirOf(argv: Pick<Common, 'state-dir'>): string {
  const dir = argv['state-dir'];
  if (!dir)
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', '--state-dir is required', {
      hint: 'Pass the --state-dir of the bridge (or set UCW_STATE_DIR).',
    });
  return dir;
}

// Checked in the handler: yargs runs a nested command's handler before its demandOption check.
function required(value: string | undefined, flag: string, hint: string): string {
  if (!value) throw new BridgeError('UCW_ERR_CONFIG_INVALID', `${flag} is required`, { hint });
  return value;
}

function filterOf(argv: Common): DeliveryFilter {
  return parseFilter(
    { url: argv.url, event: argv.event, state: argv.state, since: argv.since, until: argv.until, id: argv.id },
    Date.now(),
  );
}

function withFilters<T>(y: Argv<T>) {
  return y
    .option('url', { type: 'string', describe: 'the registered URL, exactly as in the webhooks table' })
    .option('event', { type: 'string', describe: 'an event name, e.g. AgentLog' })
    .option('state', {
      type: 'string',
      array: true,
      describe: 'pending, retrying, delivered, dead, cancelled (discarded); repeat or comma-separate',
    })
    .option('since', { type: 'string', describe: 'enqueued at or after: ISO 8601 time or relative (30m, 1h, 2d)' })
    .option('until', { type: 'string', describe: 'enqueued before: ISO 8601 time or relative' })
    .option('id', { type: 'string', array: true, describe: 'delivery ids (repeat or comma-separate)' });
}

const json = { type: 'boolean', default: false, describe: 'JSON (one line per delivery or result)' } as const;

export function deliveriesCommand<T>(y: Argv<T>, setExit: SetExit): Argv<T> {
  return y
    .option('state-dir', {
      type: 'string',
      describe: 'the bridge state directory [env: UCW_STATE_DIR]',
      default: process.env.UCW_STATE_DIR,
    })
    .command(
      'list',
      'List deliveries, newest first (reads the store read-only: safe while the bridge runs)',
      (yy) => withFilters(yy).option('limit', { type: 'number', default: 50 }).option('json', json),
      (argv) =>
        setExit(() => {
          const { rows, cut } = listDeliveries(stateDirOf(argv), filterOf(argv), Math.max(1, argv.limit));
          out(argv.json ? renderJsonLines(rows) : renderTable(rows));
          if (cut)
            void process.stderr.write(
              `ucontact-webhooks: stopped after examining ${cut.examinedRows} deliveries; ` +
                `more may exist below id ${cut.belowId} (the walk is bounded): narrow the filter or name ids (--id)\n`,
            );
          return 0;
        }),
    )
    .command(
      'show <id>',
      'One delivery in full, with its event body (personal data: for this terminal, not for logs)',
      (yy) => yy.positional('id', { type: 'string', describe: 'delivery id' }).option('json', json),
      (argv) =>
        setExit(() => {
          const [id] = parseIds([argv.id ?? '']);
          const d = showDelivery(stateDirOf(argv), id!);
          out(argv.json ? `${JSON.stringify(d)}\n` : renderDetail(d));
          return 0;
        }),
    )
    .command(
      'retry',
      'Requeue dead (or, with --state cancelled or --id, cancelled) deliveries with their ids and a fresh ' +
        'retry budget; through the running bridge, or in the store when none runs',
      (yy) =>
        withFilters(yy)
          .option('all', { type: 'boolean', default: false, describe: 'every dead letter (no filter)' })
          .option('json', json),
      (argv) =>
        setExit(
          (async () => {
            const filter = filterOf(argv);
            if (Object.keys(filter).length === 0 && !argv.all)
              throw new BridgeError('UCW_ERR_CONFIG_INVALID', 'name what to retry', {
                hint: 'Give --id, --url, --event, --state, --since or --until, or --all for every dead letter.',
              });
            const r = await retryDeliveries(stateDirOf(argv), filter, argv.all);
            out(argv.json ? `${JSON.stringify(r)}\n` : actionLine('retry', { ...r }));
            return 0;
          })(),
        ),
    )
    .command(
      'discard',
      "Cancel a URL's pending backlog on purpose (a receiver gone for good): kept as cancelled, never sent",
      (yy) =>
        yy
          .option('url', {
            type: 'string',
            describe: 'the registered URL, exactly as in the webhooks table (required)',
          })
          .option('event', { type: 'string', describe: 'only the deliveries of this event' })
          .option('json', json),
      (argv) =>
        setExit(
          (async () => {
            const url = required(argv.url, '--url', 'Name the URL whose backlog to discard, exactly as registered.');
            const r = await discardDeliveries(stateDirOf(argv), url, argv.event);
            out(argv.json ? `${JSON.stringify(r)}\n` : actionLine('discard', { ...r }, url));
            return 0;
          })(),
        ),
    )
    .command(
      'resume',
      'Resume a URL paused after 410 Gone (or failing) now; with no bridge running, clears its saved pause',
      (yy) =>
        yy
          .option('url', {
            type: 'string',
            describe: 'the registered URL, exactly as in the webhooks table (required)',
          })
          .option('json', json),
      (argv) =>
        setExit(
          (async () => {
            const url = required(argv.url, '--url', 'Name the URL to resume, exactly as registered.');
            const r = await resumeUrl(stateDirOf(argv), url);
            out(argv.json ? `${JSON.stringify(r)}\n` : actionLine('resume', { ...r }, url));
            return 0;
          })(),
        ),
    )
    .demandCommand(1);
}

const deprecated = (instead: string): void =>
  void process.stderr.write(`ucontact-webhooks: dead-letters is deprecated; use \`${instead}\`\n`);

/** `dead-letters list|retry`: the earlier names, kept working for scripts; each says what replaces it. */
export function deadLettersCommand<T>(y: Argv<T>, setExit: SetExit): Argv<T> {
  return y
    .option('state-dir', {
      type: 'string',
      describe: 'the bridge state directory [env: UCW_STATE_DIR]',
      default: process.env.UCW_STATE_DIR,
    })
    .command(
      'list',
      'Deprecated: `deliveries list --state dead --json`',
      (yy) => yy.option('limit', { type: 'number', default: 100 }),
      (argv) =>
        setExit(() => {
          deprecated('deliveries list --state dead --json');
          for (const d of listDeadLetters(stateDirOf(argv), Math.max(1, argv.limit))) out(`${JSON.stringify(d)}\n`);
          return 0;
        }),
    )
    .command(
      'retry',
      'Deprecated: `deliveries retry --all` or `deliveries retry --id N`',
      (yy) => yy.option('id', { type: 'string', array: true, describe: 'delivery ids' }),
      (argv) =>
        setExit(
          (async () => {
            deprecated(argv.id ? 'deliveries retry --id N' : 'deliveries retry --all');
            const ids = argv.id ? parseIds(argv.id) : undefined;
            const filter: DeliveryFilter = { states: ['dead'], ...(ids ? { ids } : {}) };
            const r = await retryDeliveries(stateDirOf(argv), filter, ids === undefined);
            out(actionLine('retry', { ...r }));
            return 0;
          })(),
        ),
    )
    .demandCommand(1);
}
