// Decides where the binlog stream starts and loads the mirrors as of that point. First run: the
// binlog end plus a snapshot of the mirrored tables. Later runs: the checkpoint, after checking that
// it belongs to this server's history (a wiped or replaced server must not be read from a stale
// offset). --reset-to-now: the current end, with the skipped amount logged, never silently.

import type { BinlogPosition, Row } from '../domain/row-change.js';
import { formatPosition } from '../domain/row-change.js';
import { BridgeError, type WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StateStore } from '../outbox/state-store.js';
import type { MirrorTable } from './processor.js';
import type { Registry } from '../registry/registry.js';
import { keyString, projectRow } from '../rules/directory.js';
import type { RulesEngine } from '../rules/engine.js';
import type { ServerSettings, SourceDb } from '../source/source-db.js';

const FINGERPRINT_KEY = 'source_fingerprint';

/** What identifies the source's history at a checkpoint. */
interface Fingerprint {
  serverId: number;
  serverUuid?: string | undefined;
  file: string;
  pos: number;
  /** MariaDB: BINLOG_GTID_POS(file, pos). */
  gtidPos?: string | undefined;
}

export interface StartPositionDeps {
  /** What it reads of the source (a fake in unit tests). */
  readonly db: Pick<SourceDb, 'binlogEnd' | 'snapshot' | 'gtidPositionAt' | 'binlogFiles'>;
  readonly outbox: StateStore;
  readonly engine: RulesEngine;
  readonly registry: Registry;
  readonly mirrorTables: ReadonlyArray<MirrorTable>;
  readonly resetToNow: boolean;
  readonly logger: Logger;
}

export class StartPosition {
  private resetPending: boolean;

  constructor(private readonly deps: StartPositionDeps) {
    this.resetPending = deps.resetToNow;
  }

  /** Runs on every (re)connect, after preflight. Returns the position to stream from. */
  async prepare(settings: ServerSettings): Promise<BinlogPosition> {
    const { outbox, logger } = this.deps;
    let checkpoint = outbox.checkpoint();
    if (!checkpoint) {
      checkpoint = await this.startAtEnd();
      logger.info({ position: formatPosition(checkpoint) }, 'first run: starting at the current end of the binlog');
    } else if (this.resetPending) {
      const end = await this.startAtEnd();
      logger.warn(
        {
          code: 'UCW_WARN_SOURCE_RESET' satisfies WarningCode,
          from: formatPosition(checkpoint),
          to: formatPosition(end),
          skippedBytes: await this.bytesBetween(checkpoint, end),
        },
        '--reset-to-now: skipped the binlog between the checkpoint and the current end; events in it are not delivered',
      );
      checkpoint = end;
    } else {
      await this.verifyHistory(settings, checkpoint);
    }
    this.resetPending = false;
    await this.recordFingerprint(settings, checkpoint);
    this.loadMirrors();
    return checkpoint;
  }

  private async startAtEnd(): Promise<BinlogPosition> {
    const { db, outbox, mirrorTables } = this.deps;
    // Position first, then the snapshot: a change committed in between is in both, and re-applying
    // a mirror change is idempotent, so nothing is missed.
    const end = await db.binlogEnd();
    const snapshots: Array<{ table: string; rows: Array<{ pk: string; row: Row }> }> = [];
    for (const t of mirrorTables) {
      const rows = await db.snapshot(t.table, t.columns);
      snapshots.push({
        table: t.table,
        rows: rows.flatMap((row) => {
          const pk = keyString(row[t.key]);
          return pk === undefined ? [] : [{ pk, row }];
        }),
      });
    }
    outbox.initialize(snapshots, end);
    return end;
  }

  private loadMirrors(): void {
    const { engine, registry } = this.deps;
    const stored = this.storedRows();
    for (const dir of engine.directories.values()) dir.load(stored.get(dir.table) ?? []);
    registry.load(stored.get(registry.def.table) ?? []);
  }

  /**
   * The stored rows of each mirrored table. A store written before mirrors were projected holds
   * whole rows (columns no rule reads, such as a password hash): such a table is rewritten once
   * with only the kept columns.
   */
  private storedRows(): Map<string, Row[]> {
    const { outbox, mirrorTables, logger } = this.deps;
    const out = new Map<string, Row[]>();
    const reduced: Record<string, number> = {};
    for (const t of mirrorTables) {
      const kept = new Set(t.columns);
      const rows = outbox.mirrorRows(t.table);
      out.set(t.table, rows);
      const wide = rows.filter((row) => Object.keys(row).some((c) => !kept.has(c))).length;
      if (wide === 0) continue;
      const projected = rows.map((row) => projectRow(row, t.columns));
      outbox.replaceMirrorRows(
        t.table,
        projected.flatMap((row) => {
          const pk = keyString(row[t.key]);
          return pk === undefined ? [] : [{ pk, row }];
        }),
      );
      out.set(t.table, projected);
      reduced[t.table] = wide;
    }
    if (Object.keys(reduced).length > 0)
      logger.info({ rows: reduced }, 'stored mirror rows reduced to the columns the rules read');
    return out;
  }

  /** Refuses a checkpoint written against another server or a history that was since replaced. */
  private async verifyHistory(settings: ServerSettings, checkpoint: BinlogPosition): Promise<void> {
    const raw = this.deps.outbox.getMeta(FINGERPRINT_KEY);
    if (!raw) return;
    const fp = JSON.parse(raw) as Fingerprint;
    const foreign = (why: string): BridgeError =>
      new BridgeError(
        'UCW_ERR_SOURCE_CHECKPOINT_FOREIGN',
        `the checkpoint ${formatPosition(checkpoint)} does not belong to this server's binlog: ${why}`,
        {
          hint:
            'The state directory was written against another server, or the server was ' +
            'rebuilt. Use the state directory that belongs to this server, or start once ' +
            'with --reset-to-now to continue from the current end (the skip is logged).',
          details: { checkpoint, fingerprint: fp },
        },
      );
    if (fp.serverId !== settings.serverId) throw foreign(`server_id was ${fp.serverId}, is ${settings.serverId}`);
    if (fp.serverUuid !== undefined && settings.serverUuid !== undefined && fp.serverUuid !== settings.serverUuid) {
      throw foreign(`server_uuid was ${fp.serverUuid}, is ${settings.serverUuid}`);
    }
    if (fp.gtidPos !== undefined) {
      const now = await this.deps.db.gtidPositionAt(fp);
      // null: that coordinate is no longer in the binlog (purged); the stream reports a purged
      // checkpoint itself, and an older purged fingerprint says nothing.
      if (now !== null && now !== undefined && now !== fp.gtidPos) {
        throw foreign(`at ${fp.file}:${fp.pos} the server's GTID position was ${fp.gtidPos}, is ${now}`);
      }
    }
  }

  private async recordFingerprint(settings: ServerSettings, checkpoint: BinlogPosition): Promise<void> {
    const gtidPos = await this.deps.db.gtidPositionAt(checkpoint);
    const fp: Fingerprint = {
      serverId: settings.serverId,
      serverUuid: settings.serverUuid,
      file: checkpoint.file,
      pos: checkpoint.pos,
      gtidPos: gtidPos ?? undefined,
    };
    this.deps.outbox.setMeta(FINGERPRINT_KEY, JSON.stringify(fp));
  }

  /** Binlog bytes from `a` to `b` (null when the files are no longer listed). */
  private async bytesBetween(a: BinlogPosition, b: BinlogPosition): Promise<number | null> {
    if (a.file === b.file) return Math.max(0, b.pos - a.pos);
    const files = await this.deps.db.binlogFiles();
    const i = files.findIndex((f) => f.file === a.file);
    const j = files.findIndex((f) => f.file === b.file);
    if (j < 0) return null;
    // The rest of the start file (when still listed; a purged one counts from the first listed file),
    // every whole file in between, and the start of the end file.
    let total = i < 0 ? 0 : Math.max(0, files[i]!.size - a.pos);
    for (let k = i + 1; k < j; k++) total += files[k]!.size;
    return total + b.pos;
  }
}
