// `replay`: regenerates events from the source's binlog between two points, with the ids they had
// the first time, and enqueues for each registered URL only those never delivered there (or all, with
// --force). Reads stop at the earliest of --to, the binlog end when the replay began and the bridge's
// checkpoint (what lies beyond it is the bridge's own to deliver). New deliveries go through the
// running bridge's admin API when one holds the state dir, else straight into the store under its
// lock; --dry-run changes nothing. The directory tables come from the store's mirror as it is now.

import type { Config } from '../config/config.js';
import { formatPosition, type BinlogPosition, type RowChange } from '../domain/row-change.js';
import { BridgeError, describeError } from '../errors.js';
import { StateStore } from '../outbox/state-store.js';
import { Registry } from '../registry/registry.js';
import { columnsUsed } from '../rules/columns.js';
import { RulesEngine } from '../rules/engine.js';
import { defaultRules, loadRulesFile } from '../rules/load.js';
import { checkRulesAgainstSchema } from '../rules/schema-check.js';
import { safeUrl } from '../safe-url.js';
import { parseMysqlUrl } from '../source/connection.js';
import { oneOffServerId, SERVER_ID_META_KEY } from '../source/server-id.js';
import { SourceDb } from '../source/source-db.js';
import { withBridgeOrStore, type AdminClient } from './admin-client.js';
import { applyReplay, type ReplayDecision, type ReplayEvent } from './replay-dedup.js';
import { ReplayEventBuilder } from './replay-events.js';
import { bytesBetween, positionForTime, positionOfGtid } from './replay-locate.js';
import { decisionLine, progressText, summaryLine, tableHeader, type ReplaySummary } from './replay-output.js';
import { comparePositions, earliest, formatGtid, parseReplayPoint } from './replay-position.js';
import { REPLAY_PATH, type ReplayAnswer } from './replay-route.js';
import { fileStartedAt, readBinlogRange } from './replay-source.js';

export interface ReplayArgs {
  readonly from: string;
  readonly to?: string | undefined;
  readonly rule?: string | undefined;
  readonly url?: string | undefined;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly json: boolean;
}

export interface ReplayIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** stderr is a terminal: progress is a bar redrawn in place. */
  readonly tty: boolean;
  readonly now: () => number;
}

/** Events sent to the bridge per request (its admin API reads at most 1 MiB per body). */
const BATCH_EVENTS = 200;
const BATCH_BYTES = 512 * 1024;
const TTY_REDRAW_MS = 200;
const PLAIN_PROGRESS_MS = 5_000;

type Sink = (events: ReplayEvent[]) => Promise<ReplayDecision[][]>;

function invalid(message: string, hint: string): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_INVALID', message, { hint });
}

export async function runReplay(config: Config, args: ReplayArgs, io: ReplayIo): Promise<ReplaySummary> {
  const fromPoint = parseReplayPoint(args.from, config.timezone, '--from');
  const toPoint = args.to === undefined ? undefined : parseReplayPoint(args.to, config.timezone, '--to');
  const rules = config.rules ? loadRulesFile(config.rules) : defaultRules();
  const conn = parseMysqlUrl(config.mysqlUrl);
  // Read beside a running bridge without its lock: the mirror, the checkpoint, its server id; and the
  // outbox for a dry run. Opened first: the source pool keeps the process alive until it is closed.
  const reader = new StateStore({ stateDir: config.stateDir, synchronous: 'full', readonly: true });
  const db = new SourceDb(conn);
  try {
    const checkpoint = reader.checkpoint();
    if (!checkpoint) {
      throw invalid(`the state store in ${config.stateDir} has no checkpoint`, 'Run the bridge once on it first.');
    }
    const resolved = await checkRulesAgainstSchema(rules, (tables) => db.columnsOf(tables));
    if (args.rule !== undefined && !resolved.rules.some((r) => r.id === args.rule)) {
      throw invalid(`--rule ${args.rule}: no such rule`, `Rules: ${resolved.rules.map((r) => r.id).join(', ')}.`);
    }
    const engine = new RulesEngine(resolved, config.timezone);
    for (const dir of engine.directories.values()) dir.load(reader.mirrorRows(dir.table));
    const registry = new Registry(resolved.registry, () => undefined);
    registry.load(await db.snapshot(resolved.registry.table, registry.columns));
    if (args.url !== undefined && !registry.urls().has(args.url)) {
      throw invalid(
        `--url ${safeUrl(args.url)} is not registered in ${resolved.registry.table}`,
        'Give a URL exactly as the webhooks table holds it now.',
      );
    }
    const serverId = oneOffServerId([config.serverId, Number(reader.getMeta(SERVER_ID_META_KEY))]);

    let from: BinlogPosition;
    let skipBeforeMs: number | undefined;
    if (fromPoint.kind === 'position') from = fromPoint.position;
    else if (fromPoint.kind === 'gtid') from = await positionOfGtid(db, fromPoint.gtid);
    else {
      const found = await positionForTime(db, fromPoint.ms, (file) => fileStartedAt(conn, serverId, file));
      from = found.position;
      skipBeforeMs = fromPoint.ms;
      if (found.beforeOldest)
        io.err(`replay: --from is older than the oldest binlog file; reading from ${from.file}\n`);
    }
    const files = await db.binlogFiles();
    if (!files.some((f) => f.file === from.file)) {
      throw new BridgeError('UCW_ERR_REPLAY_NOT_IN_BINLOG', `${formatPosition(from)} is not in the server's binlog`, {
        hint: 'SHOW BINARY LOGS lists the files the server keeps; replay from inside them.',
      });
    }
    const binlogEnd = await db.binlogEnd();
    // A GTID --to is found in the stream; asked here too, so one not in the binlog is refused up front.
    if (toPoint?.kind === 'gtid') await positionOfGtid(db, toPoint.gtid);
    const toPosition = toPoint?.kind === 'position' ? toPoint.position : undefined;
    const end = earliest(toPosition, binlogEnd, checkpoint)!;
    if (comparePositions(checkpoint, binlogEnd) < 0 && comparePositions(end, checkpoint) === 0) {
      io.err(`replay: stopping at the bridge's checkpoint ${formatPosition(checkpoint)}; it delivers what follows\n`);
    }
    io.err(`replay: reading ${formatPosition(from)} .. ${formatPosition(end)} as replica server id ${serverId}\n`);

    const builder = new ReplayEventBuilder({
      engine,
      registry,
      db,
      rule: args.rule,
      url: args.url,
      from,
      onRuleError: (rule: string, err: unknown, change: RowChange) =>
        io.err(`replay: rule ${rule} failed at ${formatPosition(change.tx.start)}: ${describeError(err).message}\n`),
    });

    const go = async (sink: Sink, via: ReplaySummary['via']): Promise<ReplaySummary> => {
      const counts = { events: 0, enqueue: 0, delivered: 0, pending: 0 };
      let batch: ReplayEvent[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const events = batch;
        batch = [];
        batchBytes = 0;
        const decisions = await sink(events);
        events.forEach((ev, i) => {
          for (const d of decisions[i] ?? []) {
            if (d.enqueue) counts.enqueue++;
            else counts[d.reason as 'delivered' | 'pending']++;
            io.out(decisionLine(ev, d, { json: args.json, dryRun: args.dryRun }));
          }
        });
      };
      if (!args.json) io.out(tableHeader());
      const progress = progressReporter(io, files, from, end);
      let inRange = skipBeforeMs === undefined;
      const reached = await readBinlogRange({
        conn,
        serverId,
        tables: [...columnsUsed(rules).keys()],
        from,
        end,
        afterGtid: toPoint?.kind === 'gtid' ? formatGtid(toPoint.gtid) : undefined,
        untilMs: toPoint?.kind === 'time' ? toPoint.ms : undefined,
        heartbeatSeconds: config.heartbeatSeconds,
        maxQueuedRows: config.maxQueuedRows,
        onPosition: (at) => progress.update(at, counts.events),
        handler: async (tx) => {
          // Before --from's time, changes still feed the directories and remembered values.
          if (!inRange && Math.floor(tx.timestampMs / 1000) >= Math.floor(skipBeforeMs! / 1000)) inRange = true;
          const events = await builder.eventsOf(tx);
          if (!inRange) return;
          counts.events += events.length;
          for (const ev of events) {
            batch.push(ev);
            batchBytes += ev.body.length + 300;
          }
          if (batch.length >= BATCH_EVENTS || batchBytes >= BATCH_BYTES) await flush();
        },
      });
      await flush();
      progress.done(reached, counts.events);
      const summary: ReplaySummary = {
        from: formatPosition(from),
        to: formatPosition(reached),
        dryRun: args.dryRun,
        via,
        events: counts.events,
        enqueue: counts.enqueue,
        skipped: { delivered: counts.delivered, pending: counts.pending },
      };
      io.out(summaryLine(summary, args.json));
      return summary;
    };

    const opts = { force: args.force, dryRun: args.dryRun };
    if (args.dryRun) return await go((events) => Promise.resolve(applyReplay(reader, events, opts).decisions), 'none');
    return await withBridgeOrStore(config.stateDir, {
      offline: (store) => go((events) => Promise.resolve(applyReplay(store, events, opts).decisions), 'store'),
      online: (client: AdminClient) =>
        go(async (events) => {
          const answer = await client.call<ReplayAnswer>('POST', REPLAY_PATH, { force: args.force, events });
          return answer.decisions;
        }, 'bridge'),
    });
  } finally {
    reader.close();
    await db.close();
  }
}

/** Progress on stderr: a bar redrawn in place on a terminal, a line every few seconds otherwise. */
export function progressReporter(
  io: ReplayIo,
  files: ReadonlyArray<{ file: string; size: number }>,
  from: BinlogPosition,
  end: BinlogPosition,
): { update(at: BinlogPosition, events: number): void; done(at: BinlogPosition, events: number): void } {
  const startedAt = io.now();
  const totalBytes = bytesBetween(files, from, end);
  let lastAt = startedAt;
  let drawn = false;
  const text = (at: BinlogPosition, events: number): string =>
    progressText(
      { at, doneBytes: bytesBetween(files, from, at), totalBytes, elapsedMs: io.now() - startedAt, events },
      io.tty,
    );
  return {
    update(at, events) {
      const now = io.now();
      if (now - lastAt < (io.tty ? TTY_REDRAW_MS : PLAIN_PROGRESS_MS)) return;
      lastAt = now;
      drawn = true;
      io.err(io.tty ? `\r${text(at, events)}\x1b[K` : text(at, events));
    },
    done(at, events) {
      if (io.tty) io.err(`\r${text(at, events)}\x1b[K\n`);
      else if (drawn) io.err(text(at, events));
    },
  };
}
