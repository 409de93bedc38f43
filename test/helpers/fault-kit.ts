// Shared tools of the fault-injection tests: agent traffic whose every event is recognisable by its
// body, writers on their own connections, a ledger that checks what receivers accepted against what
// the source committed (complete, duplicates identical, per-agent order), and probes of the bridge
// (/readyz, /metrics, RSS). Not a test file itself (only *.test.ts are run).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type { BridgeProcess } from './bridge-process.js';
import type { RecordedRequest, Responder } from '../../demo/receiver.js';
import { sleep } from './wait-for.js';

// ---- traffic: one row = one event, identified by its time (one second per sequence number) ----

export type AgentRowEvent = 'AGENTLOGIN' | 'PAUSE' | 'UNPAUSE' | 'AGENTLOGOFF';

export interface TrafficRow {
  /** Unique across the test; the row's time is BASE + seq seconds, so the body's `date` names it. */
  readonly seq: number;
  readonly agent: string;
  readonly event: AgentRowEvent;
}

const BASE_MS = Date.UTC(2026, 2, 2, 0, 0, 0);
/** Each agent goes round login -> pause -> unpause -> logoff. */
const CYCLE: readonly AgentRowEvent[] = ['AGENTLOGIN', 'PAUSE', 'UNPAUSE', 'AGENTLOGOFF'];

/** `yyyy-MM-dd HH:mm:ss` of a sequence number (what the bridge writes as `date`). */
export function dateOf(seq: number): string {
  return new Date(BASE_MS + seq * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** The exact uContact body the bridge must send for a row (field order as documented). */
export function expectedBody(r: TrafficRow): string {
  const date = dateOf(r.seq);
  if (r.event === 'AGENTLOGIN' || r.event === 'AGENTLOGOFF') {
    return JSON.stringify({ event: 'AgentLog', date, agent: r.agent, isLogin: r.event === 'AGENTLOGIN' });
  }
  return JSON.stringify({
    event: 'AgentBreak',
    date,
    agent: r.agent,
    motive: `m${r.seq}`,
    isBreak: r.event === 'PAUSE',
  });
}

function sqlValues(r: TrafficRow): string {
  const motive = r.event === 'PAUSE' || r.event === 'UNPAUSE' ? `'m${r.seq}'` : 'NULL';
  return `('${dateOf(r.seq)}.000', '${r.agent}', '${r.event}', ${motive})`;
}

/** One multi-row INSERT. */
export function insertSql(rows: readonly TrafficRow[]): string {
  return `INSERT INTO ccrepo.queue_log_repo (time, agent, event, data1) VALUES ${rows.map(sqlValues).join(', ')}`;
}

/** Hands out sequence numbers and each agent's next step; shared by all writers of a test. */
export class Traffic {
  private seq = 0;
  private readonly step = new Map<string, number>();

  constructor(start = 0) {
    this.seq = start;
  }

  next(agent: string): TrafficRow {
    const i = this.step.get(agent) ?? 0;
    this.step.set(agent, i + 1);
    return { seq: this.seq++, agent, event: CYCLE[i % CYCLE.length]! };
  }

  /** `n` rows for agents picked by `pick` (called once per row). */
  rows(n: number, pick: (i: number) => string): TrafficRow[] {
    return Array.from({ length: n }, (_, i) => this.next(pick(i)));
  }
}

/** Seeded PRNG (mulberry32), so a failing run can be replayed with the seed it printed. */
export function prng(seed: number): { next: () => number; int: (lo: number, hi: number) => number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

// ---- writers ----

/**
 * A traffic writer on its own admin connection (the fixture's shared one does not survive a server
 * restart). A transaction whose COMMIT got no answer is resolved by looking its first row up once
 * the server answers again, so the ledger only ever expects what really committed.
 */
export class Writer {
  private conn: Connection | undefined;

  constructor(
    private readonly url: string,
    private readonly ledger: Ledger | readonly Ledger[],
  ) {}

  private get ledgers(): readonly Ledger[] {
    return Array.isArray(this.ledger) ? (this.ledger as readonly Ledger[]) : [this.ledger as Ledger];
  }

  private async connection(): Promise<Connection> {
    this.conn ??= await mysql.createConnection({ uri: this.url, dateStrings: true, charset: 'utf8mb4_general_ci' });
    return this.conn;
  }

  /**
   * Writes one transaction as `statements` multi-row INSERTs (1 = one INSERT for all rows).
   * Returns 'committed', 'rolled back' (as asked) or 'failed' (nothing committed; rows not expected).
   */
  async tx(
    rows: readonly TrafficRow[],
    opts: { statements?: number; rollback?: boolean } = {},
  ): Promise<'committed' | 'rolled back' | 'failed'> {
    const parts = Math.max(1, Math.min(opts.statements ?? 1, rows.length));
    const size = Math.ceil(rows.length / parts);
    let conn: Connection;
    try {
      conn = await this.connection();
    } catch {
      this.conn = undefined;
      return 'failed';
    }
    // Known to the ledgers before COMMIT: the bridge may deliver before COMMIT's answer is read here.
    for (const l of this.ledgers) l.expect(rows);
    try {
      await conn.beginTransaction();
      for (let i = 0; i < rows.length; i += size) await conn.query(insertSql(rows.slice(i, i + size)));
    } catch {
      this.drop();
      return 'failed';
    }
    if (opts.rollback) {
      await conn.rollback();
      return 'rolled back';
    }
    try {
      await conn.commit();
    } catch {
      // No answer to COMMIT: it may or may not have happened. Ask the server once it is back.
      this.drop();
      if (!(await this.committedAfterAll(rows[0]!))) return 'failed';
    }
    for (const l of this.ledgers) l.commit(rows);
    return 'committed';
  }

  private async committedAfterAll(first: TrafficRow): Promise<boolean> {
    for (let i = 0; i < 400; i++) {
      try {
        const conn = await this.connection();
        const [r] = await conn.query<RowDataPacket[]>(
          'SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo WHERE time = ? AND agent = ?',
          [`${dateOf(first.seq)}.000`, first.agent],
        );
        return Number(r[0]?.n) > 0;
      } catch {
        this.drop();
        await sleep(50);
      }
    }
    throw new Error('the source server did not come back within 20 s');
  }

  private drop(): void {
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    await c?.end().catch(() => c.destroy());
  }
}

// ---- ledger ----

export interface LedgerReport {
  committed: number;
  delivered: number;
  /** 2xx answers beyond the first for an event. */
  duplicates: number;
  /** Requests answered with anything but 2xx (or not answered). */
  failedAttempts: number;
  missing: TrafficRow[];
}

/**
 * What one receiving URL accepted, against what the source committed. Call accept() for every
 * request the receiver answers 2xx; the checks are: every committed row arrived at least once,
 * nothing else arrived (no rolled-back or invented event), one webhook-id per body and the same body
 * on every copy, and per agent the first copies arrived in commit order.
 */
export class Ledger {
  /** Committed rows in commit order. */
  readonly committed: TrafficRow[] = [];
  private readonly committedSeqs = new Set<number>();
  /** Every row a writer tried to commit, by its expected body. */
  private readonly byBody = new Map<string, TrafficRow>();
  /** webhook-id -> body of its first accepted copy. */
  private readonly bodyById = new Map<string, string>();
  private readonly idByBody = new Map<string, string>();
  /** First accepted copy of each row, in arrival order. */
  readonly firstArrivals: Array<{ row: TrafficRow; atMs: number }> = [];
  private readonly arrivedAt = new Map<number, number>();
  duplicates = 0;
  failedAttempts = 0;
  readonly problems: string[] = [];

  constructor(readonly name: string) {}

  /** Rows about to be written (committed or not: commit() decides). */
  expect(rows: readonly TrafficRow[]): void {
    for (const r of rows) this.byBody.set(expectedBody(r), r);
  }

  /** Rows whose transaction committed, in commit order. */
  commit(rows: readonly TrafficRow[]): void {
    for (const r of rows) {
      this.committed.push(r);
      this.committedSeqs.add(r.seq);
    }
  }

  get delivered(): number {
    return this.firstArrivals.length;
  }

  /** When the row's first accepted copy arrived (Date.now()), if it did. */
  arrivalOf(seq: number): number | undefined {
    return this.arrivedAt.get(seq);
  }

  /** Records a request the receiver is answering 2xx. */
  accept(req: RecordedRequest): void {
    const id = req.headers['webhook-id'] ?? '';
    const first = this.bodyById.get(id);
    if (first !== undefined) {
      this.duplicates++;
      if (first !== req.body) this.problems.push(`duplicate of ${id} has another body: ${req.body} vs ${first}`);
      return;
    }
    const otherId = this.idByBody.get(req.body);
    if (otherId !== undefined) {
      this.problems.push(`body ${req.body} arrived under two webhook-ids: ${otherId} and ${id}`);
      return;
    }
    this.bodyById.set(id, req.body);
    this.idByBody.set(req.body, id);
    const row = this.byBody.get(req.body);
    if (!row) {
      this.problems.push(`event never written by the test delivered: ${req.body}`);
      return;
    }
    this.firstArrivals.push({ row, atMs: req.receivedAtMs });
    this.arrivedAt.set(row.seq, req.receivedAtMs);
  }

  /**
   * A responder that answers `decide`'s answer, or 200 (recorded) when it returns undefined.
   * `decide` gets the request and how many times this webhook-id was seen before at this URL.
   */
  responder(
    decide: (req: RecordedRequest, priorAttempts: number) => ReturnType<Responder> | undefined = () => undefined,
  ): Responder {
    const attempts = new Map<string, number>();
    return (req) => {
      const id = req.headers['webhook-id'] ?? '';
      const prior = attempts.get(id) ?? 0;
      attempts.set(id, prior + 1);
      const answer = decide(req, prior);
      if (
        answer === undefined ||
        (typeof answer === 'object' && answer.status >= 200 && answer.status < 300 && !answer.delayMs)
      ) {
        this.accept(req);
        return answer ?? { status: 200 };
      }
      this.failedAttempts++;
      return answer;
    };
  }

  /** True once every committed row arrived. */
  complete(): boolean {
    return this.missing().length === 0;
  }

  missing(): TrafficRow[] {
    return this.committed.filter((r) => !this.arrivedAt.has(r.seq));
  }

  report(): LedgerReport {
    return {
      committed: this.committed.length,
      delivered: this.delivered,
      duplicates: this.duplicates,
      failedAttempts: this.failedAttempts,
      missing: this.missing(),
    };
  }

  /** Asserts completeness, no foreign or inconsistent copies, and per-agent order of first copies. */
  assertAllInOrder(): void {
    const phantoms = this.firstArrivals.filter((a) => !this.committedSeqs.has(a.row.seq));
    for (const p of phantoms)
      this.problems.push(`event of a transaction that did not commit delivered: ${expectedBody(p.row)}`);
    assert.deepEqual(this.problems.slice(0, 10), [], `${this.name}: ${this.problems.length} problems`);
    const missing = this.missing();
    assert.equal(
      missing.length,
      0,
      `${this.name}: ${missing.length}/${this.committed.length} committed ` +
        `events never delivered, e.g. ${JSON.stringify(missing.slice(0, 5))}`,
    );
    assert.equal(this.firstArrivals.length, this.committed.length, `${this.name}: more distinct events than committed`);
    const commitOrder = groupSeqs(this.committed);
    const arrivalOrder = groupSeqs(this.firstArrivals.map((a) => a.row));
    let checked = 0;
    for (const [agent, seqs] of commitOrder) {
      const got = arrivalOrder.get(agent) ?? [];
      if (got.join(',') !== seqs.join(',')) {
        const at = seqs.findIndex((s, i) => got[i] !== s);
        assert.fail(
          `${this.name}: agent ${agent} got its events out of commit order from position ${at}: ` +
            `expected ${seqs.slice(at, at + 5).join(',')}..., got ${got.slice(at, at + 5).join(',')}...`,
        );
      }
      checked++;
    }
    assert.equal(checked, commitOrder.size);
  }
}

function groupSeqs(rows: readonly TrafficRow[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of rows) {
    let l = out.get(r.agent);
    if (!l) out.set(r.agent, (l = []));
    l.push(r.seq);
  }
  return out;
}

// ---- probes of a running bridge ----

/** Status of GET /readyz (0 when the port does not answer). */
export async function readyz(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes, from /proc (undefined once it is gone). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a bridge's RSS every `everyMs` until stopped; `peak` is the highest sample. */
export function sampleRss(
  bridge: BridgeProcess,
  everyMs = 100,
): { readonly peak: number; readonly samples: number; stop(): void } {
  let peak = 0;
  let samples = 0;
  const take = (): void => {
    const v = rssBytes(bridge.pid);
    if (v === undefined) return;
    samples++;
    if (v > peak) peak = v;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    get peak() {
      return peak;
    },
    get samples() {
      return samples;
    },
    stop: () => clearInterval(timer),
  };
}

/** The bridge's log lines with this message. */
export function logsWith(bridge: BridgeProcess, msg: string): Array<Record<string, unknown>> {
  return bridge.logs.filter((l) => l.msg === msg);
}

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** `work`, failed at once (with the last log lines) if the bridge process exits first. */
export async function whileAlive<T>(bridge: BridgeProcess, work: Promise<T>): Promise<T> {
  const died = bridge.exited.then((code) => {
    throw new Error(
      `the bridge exited (code ${code}) while the test waited; last logs:\n${bridge.logs
        .slice(-5)
        .map((l) => JSON.stringify(l))
        .join('\n')}\nstderr: ${bridge.stderr.join('').slice(-2000)}`,
    );
  });
  died.catch(() => undefined);
  return Promise.race([work, died]);
}
