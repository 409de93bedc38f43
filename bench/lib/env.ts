// One private MariaDB for the whole bench, receivers started on demand, webhook rows per scenario,
// and the row every scenario prints.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { startPrivateMariaDb, type PrivateMariaDb } from '../../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../../demo/reference-schema.js';
import { BRIDGE_CONNECTIONS, undiciDispatchCeiling } from './ceilings.js';
import {
  log,
  machineCpu,
  machineCpuSince,
  startReceiver,
  type MachineCpu,
  type Receiver,
  type ReceiverKind,
} from './procs.js';

/** The six events the load's mix produces, and how many of each per 13 events. */
export const MIX: ReadonlyArray<[string, number]> = [
  ['AgentLog', 3],
  ['AgentBreak', 2],
  ['AgentRingNoAnswer', 1],
  ['AssignInteraction', 3],
  ['FinishInteraction', 3],
  ['InteractionDisposition', 1],
];

export interface Row {
  scenario: string;
  events: number;
  deliveries: number;
  eventsPerS: number;
  deliveriesPerS: number;
  /** undici alone to the same receiver, same run (req/s). */
  ceiling: number;
  /** The whole machine's CPU per request while undici alone ran (us): undici, receiver, kernel. */
  ceilingCpuUs?: number;
  /** The whole machine's CPU per delivery while the bridge ran (us), and how busy the machine was. */
  machine?: { cpuUs: number; busyPct: number };
  cpuPer10k: number;
  peakMb: number;
  settledMb: number;
  /** ms from the drain to RSS under 150 MB; NaN: not within 30 s. */
  settleMs: number;
  /** Paced by the load (live traffic) or not a throughput at all: no ratio to the ceiling. */
  paced?: boolean;
  note: string;
}

/** The undici ceiling's runs (req/s) and the machine's CPU per request over them. */
export interface Ceiling {
  runs: number[];
  cpuUs: number;
}

/** The median run; of a ceiling measured before and after a scenario, of all six. */
export function ceilingRate(c: Pick<Ceiling, 'runs'>): number {
  const s = [...c.runs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A share of the machine's core-seconds over an interval, in percent. */
const share = (part: number, cpu: MachineCpu): number => (100 * part) / (cpu.busy + cpu.steal + cpu.idle);

/**
 * A throughput run of `deliveries` against the ceiling measured before and after it (the ratio is to
 * the median of all six runs, and a machine that changed speed shows in the note), with the machine's
 * CPU over the run beside undici's.
 */
export function measuredAgainst(
  before: Ceiling,
  after: Ceiling,
  cpu: MachineCpu,
  deliveries: number,
): { fields: Pick<Row, 'ceiling' | 'ceilingCpuUs' | 'machine'>; note: string } {
  return {
    fields: {
      ceiling: ceilingRate({ runs: [...before.runs, ...after.runs] }),
      ceilingCpuUs: (before.cpuUs + after.cpuUs) / 2,
      machine: { cpuUs: (cpu.busy * 1e6) / deliveries, busyPct: share(cpu.busy, cpu) },
    },
    note: `ceiling ${Math.round(ceilingRate(before))} before, ${Math.round(ceilingRate(after))} after`,
  };
}

export class Env {
  private readonly receivers = new Map<ReceiverKind, Receiver>();
  private readonly dirs: string[] = [];

  private constructor(
    readonly db: PrivateMariaDb,
    readonly admin: Connection,
  ) {}

  static async start(): Promise<Env> {
    const db = await startPrivateMariaDb();
    await db.exec(REFERENCE_SCHEMA_SQL);
    await db.exec(`
      INSERT INTO ccdata.users (username, phone, name)
        VALUES ${Array.from({ length: 200 }, (_, i) => `('agent${i}','${2000 + i}','Agent ${i}')`).join(',')};
      INSERT INTO ccdata.dispositions (id, parentId, value) VALUES (1,0,'Sale'),(2,1,'Closed'),(3,2,'Paid');`);
    const admin = await mysql.createConnection({ uri: db.adminUrl, charset: 'utf8mb4_general_ci' });
    return new Env(db, admin);
  }

  async receiver(kind: ReceiverKind): Promise<Receiver> {
    let rx = this.receivers.get(kind);
    if (!rx) {
      rx = await startReceiver(kind);
      this.receivers.set(kind, rx);
    }
    await rx.ctl('up');
    await rx.ctl('reset');
    return rx;
  }

  /**
   * undici alone to the receiver (req/s), `n` requests, measured just before (and again just after)
   * the scenario that uses it: the machine's speed moves within a run (other work on it, steal), so a
   * ratio is of one moment. Also the whole machine's CPU per request: undici, the receiver, the kernel.
   */
  async ceiling(kind: ReceiverKind, n: number): Promise<Ceiling> {
    const rx = await this.receiver(kind);
    // A warm-up (JIT, connections), then three runs: one run moved by 2x from one scenario to the
    // next on a shared machine, which made the ratios noise.
    await undiciDispatchCeiling(rx.url, 2_000);
    const runs: number[] = [];
    const perRun = Math.ceil(n / 3);
    const cpu0 = machineCpu();
    for (let i = 0; i < 3; i++) runs.push(await undiciDispatchCeiling(rx.url, perRun));
    const cpu = machineCpuSince(cpu0);
    await rx.ctl('reset');
    const c: Ceiling = { runs, cpuUs: (cpu.busy * 1e6) / (3 * perRun) };
    log(
      `ceiling: undici dispatch() to the ${kind} receiver, ${BRIDGE_CONNECTIONS} connections: ` +
        `${Math.round(ceilingRate(c))} req/s (median of ${runs.map((r) => Math.round(r)).join(', ')}), ` +
        `machine CPU ${c.cpuUs.toFixed(1)} us/request, steal ${Math.round(share(cpu.steal, cpu))}%`,
    );
    return c;
  }

  /** The webhooks table: for each event of the mix, the URLs `urlsFor` gives. */
  async setWebhooks(urlsFor: (event: string) => string[]): Promise<void> {
    const rows = MIX.flatMap(([event]) => urlsFor(event).map((url) => `('${event}','${event}','${url}')`));
    await this.admin.query('DELETE FROM ccdata.webhooks');
    await this.admin.query(`INSERT INTO ccdata.webhooks (name, event, url) VALUES ${rows.join(',')}`);
  }

  stateDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'ucw-bench-state-'));
    this.dirs.push(dir);
    return dir;
  }

  dropDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    for (const rx of this.receivers.values()) rx.stop();
    await this.admin.end();
    await this.db.stop();
  }
}
