// `npm run bench`: measures the bridge end to end on this machine against a private MariaDB and a
// receiver in its own process, beside its own ceilings measured in the same run (zongji alone reading
// the same backlog, undici alone POSTing the same number of bodies). Each figure is the median of
// --runs runs with min and max; prints a table and writes bench/out/results.json. Sizes are flags.

import ZongJi, { type AnyBinlogEvent } from '@vlasky/zongji';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mysql, { type Connection } from 'mysql2/promise';
import { Pool } from 'undici';
import { startPrivateMariaDb, type PrivateMariaDb } from '../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../demo/reference-schema.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const CLOCK_TICKS_PER_S = 100;
const ROWS_PER_TX = 1000;
/** Live traffic sent (and delivered) before the measured LIVE_SECONDS. */
const LIVE_WARMUP_SECONDS = 3;
/** The bridge's default --concurrency-per-url: ceiling (b) uses as many connections. */
const BRIDGE_CONNECTIONS = 32;

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    'live-rate': { type: 'string', default: '1000' },
    'live-seconds': { type: 'string', default: '60' },
    backlog: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    skip: { type: 'string', multiple: true, default: [] },
    receiver: { type: 'string', default: 'c' },
  },
});
const N = Number(flags.events);
const LIVE_RATE = Number(flags['live-rate']);
const LIVE_SECONDS = Number(flags['live-seconds']);
const BACKLOG = Number(flags.backlog);
const RUNS = Number(flags.runs);
const skip = new Set(flags.skip);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
function sqlTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${date} ${time}.${pad(d.getUTCMilliseconds(), 3)}`;
}

// ---------- load generation: rows that produce a known number of events, in a realistic mix ----------

interface Batch {
  queueLog: string[];
  interactions: string[];
  events: number;
}

let seq = 0;
/** Rows one unit of `batch` writes (7 queue_log, 3 interactions) and the events they produce. */
const ROWS_PER_UNIT = 10;
const EVENTS_PER_UNIT = 13;

/**
 * `units` groups of 13 events: 3 AgentLog, 2 AgentBreak, 1 AgentRingNoAnswer (after its ENTERQUEUE),
 * 2 digital legs inserted finished (AssignInteraction + FinishInteraction each), 1 telephony leg
 * inserted finished and dispositioned (AssignInteraction + FinishInteraction + InteractionDisposition).
 */
function batch(units: number, timeMs: number): Batch {
  const q: string[] = [];
  const i: string[] = [];
  let events = 0;
  const t = `'${sqlTime(timeMs)}'`;
  for (let u = 0; u < units; u++) {
    const n = seq++;
    const agent = `agent${n % 200}`;
    const callid = `c${n}`;
    q.push(`(${t},'','','${agent}','AGENTLOGIN',NULL,NULL)`, `(${t},'','','${agent}','PAUSE','Lunch',NULL)`);
    q.push(`(${t},'','','${agent}','UNPAUSE','Lunch',NULL)`, `(${t},'','','${agent}','AGENTLOGOFF',NULL,NULL)`);
    q.push(`(${t},'','','${agent}','AGENTLOGIN',NULL,NULL)`);
    q.push(`(${t},'${callid}','Sales<-','','ENTERQUEUE',NULL,'5989${pad(n % 10_000_000, 7)}')`);
    q.push(`(${t},'${callid}','Sales<-','SIP/${2000 + (n % 200)}','RINGNOANSWER','15000',NULL)`);
    events += 6;
    const day = sqlTime(timeMs).slice(0, 19);
    i.push(`('w${n}a','${day}','${day}','Chat<-','webchat','${agent}','c${n}@example.com',NULL,1)`);
    i.push(`('w${n}b','${day}','${day}','Chat<-','whatsapp','${agent}','5989${pad(n % 10_000_000, 7)}',NULL,1)`);
    i.push(`('t${n}','${day}','${day}','Sales<-','telephony','${agent}','5989${pad(n % 10_000_000, 7)}',3,1)`);
    events += EVENTS_PER_UNIT - 6;
  }
  return { queueLog: q, interactions: i, events };
}

/** Each agent's next state in the live load: login, break, back, logoff, and around again. */
const LIVE_CYCLE: ReadonlyArray<[string, string]> = [
  ['AGENTLOGIN', 'NULL'],
  ['PAUSE', "'Lunch'"],
  ['UNPAUSE', "'Lunch'"],
  ['AGENTLOGOFF', 'NULL'],
];
let liveSeq = 0;

/**
 * Live traffic as a contact center makes it: `events` agent events, each from the next of 200 agents
 * in turn (so one agent's events are ~200 events apart), stamped with the write time in milliseconds.
 */
function liveRows(events: number, timeMs: number): string[] {
  const t = `'${sqlTime(timeMs)}'`;
  return Array.from({ length: events }, () => {
    const n = liveSeq++;
    const [event, data1] = LIVE_CYCLE[Math.floor(n / 200) % LIVE_CYCLE.length]!;
    return `(${t},'','','agent${n % 200}','${event}',${data1},NULL)`;
  });
}

async function writeBatch(c: Connection, b: Batch): Promise<void> {
  await c.beginTransaction();
  if (b.queueLog.length)
    await c.query(
      `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, ` +
        `agent, event, data1, data2) VALUES ${b.queueLog.join(',')}`,
    );
  if (b.interactions.length) {
    await c.query(
      `INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, channel, ` +
        `agent, clientId, disposition_id, finished) VALUES ${b.interactions.join(',')}`,
    );
  }
  await c.commit();
}

/** Writes about `events` events in transactions of ~ROWS_PER_TX rows; returns the exact count. */
async function writeBacklog(c: Connection, events: number): Promise<number> {
  let written = 0;
  while (written < events) {
    const b = batch(Math.min(ROWS_PER_TX / ROWS_PER_UNIT, Math.ceil((events - written) / EVENTS_PER_UNIT)), Date.now());
    await writeBatch(c, b);
    written += b.events;
  }
  return written;
}

// ---------- processes and probes ----------

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Receiver {
  url: string;
  proc: ChildProcess;
  stats(
    withLatencies?: boolean,
  ): Promise<{ requests: number; distinct: number; firstAt: number; lastAt: number; latencies: number[] }>;
  ctl(cmd: 'reset' | 'down' | 'up'): Promise<void>;
}

/**
 * `--receiver c` (default): bench/receiver.c built with the system C compiler, so the receiver takes
 * little CPU from the bridge on a 2-core machine; `--receiver node`: bench/receiver.ts. Without a C
 * compiler the node one is used, and the table says so.
 */
function chooseReceiver(): { kind: 'c' | 'node'; command: string[]; label: string } {
  const node = {
    kind: 'node' as const,
    command: [process.execPath, '--import', 'tsx', join(ROOT, 'bench', 'receiver.ts')],
    label: 'minimal node:http server (bench/receiver.ts)',
  };
  if (flags.receiver === 'node') return node;
  const bin = join(ROOT, 'bench', 'out', 'receiver');
  mkdirSync(dirname(bin), { recursive: true });
  const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', bin, join(ROOT, 'bench', 'receiver.c')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (cc.status !== 0) {
    log(`cannot build bench/receiver.c (${cc.error?.message ?? cc.stderr.toString().trim()}); using the node receiver`);
    return node;
  }
  return { kind: 'c', command: [bin], label: 'epoll HTTP server in C (bench/receiver.c)' };
}
const RECEIVER = chooseReceiver();

async function startReceiver(): Promise<Receiver> {
  const proc = spawn(RECEIVER.command[0]!, RECEIVER.command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    proc.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    proc,
    stats: async (withLatencies = false) =>
      (await (
        await fetch(`${url}/ctl/stats`, { headers: withLatencies ? { 'x-with-latencies': '1' } : {} })
      ).json()) as Awaited<ReturnType<Receiver['stats']>>,
    ctl: async (cmd) => void (await fetch(`${url}/ctl/${cmd}`, { method: 'POST' })).arrayBuffer(),
  };
}

interface Bridge {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/**
 * How the installed command starts node: the environment assignments and node flags of the
 * `#!/usr/bin/env -S VAR=value node --flag ...` line of dist/cli.js.
 */
function cliLaunch(): { env: Record<string, string>; nodeFlags: string[] } {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0]!;
  const words = (/^#!\/usr\/bin\/env -S (.*)$/.exec(first)?.[1] ?? 'node').split(' ').filter(Boolean);
  const at = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, at).map((w) => w.split('=', 2) as [string, string]));
  return { env, nodeFlags: words.slice(at + 1) };
}
const LAUNCH = cliLaunch();

async function startBridge(db: PrivateMariaDb, stateDir: string): Promise<Bridge> {
  const port = await freePort();
  // Run as the `ucontact-webhooks` command runs, with its shebang's node flags; BENCH_BRIDGE_NODE_ARGS
  // adds some (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the bridge process), and
  // BENCH_BRIDGE_STDOUT names a file for the bridge's standard output (e.g. with '--trace-gc').
  const nodeArgs = [...LAUNCH.nodeFlags, ...(process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const proc = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CLI,
      'run',
      '--mysql-url',
      db.bridgeUrl,
      '--state-dir',
      stateDir,
      '--http-port',
      String(port),
      '--log-level',
      'warn',
    ],
    {
      stdio: [
        'ignore',
        process.env.BENCH_BRIDGE_STDOUT ? openSync(process.env.BENCH_BRIDGE_STDOUT, 'a') : 'ignore',
        'inherit',
      ],
      env: { ...process.env, ...LAUNCH.env },
    },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    port,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitReady(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error('bridge not ready in time');
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** CPU seconds per thread of `pid`, the busiest first: "name 12.3 s", for the progress log. */
function threadCpu(pid: number): string {
  return readdirSync(`/proc/${pid}/task`)
    .map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      return {
        name: tid === String(pid) ? 'main' : `${name}:${tid}`,
        s: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S,
      };
    })
    .filter((t) => t.s >= 0.1)
    .sort((a, b) => b.s - a.s)
    .map((t) => `${t.name} ${t.s.toFixed(1)} s`)
    .join(', ');
}

function rssSampler(pid: number): { peakMb: () => number; stop: () => void } {
  let peak = 0;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, procStatusKb(pid, 'VmRSS'));
    } catch {
      // process gone
    }
  }, 100);
  return { peakMb: () => peak / 1024, stop: () => clearInterval(t) };
}

async function waitDistinct(rx: Receiver, n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await rx.stats()).distinct < n) {
    if (Date.now() > until)
      throw new Error(`receiver has ${(await rx.stats()).distinct}/${n} events after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function masterStatus(c: Connection): Promise<{ file: string; pos: number }> {
  const [rows] = (await c.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number }>];
  return { file: rows[0]!.File, pos: Number(rows[0]!.Position) };
}

// ---------- the measurements ----------

interface Env {
  db: PrivateMariaDb;
  admin: Connection;
  rx: Receiver;
}

async function freshEnv(): Promise<Env> {
  const db = await startPrivateMariaDb();
  await db.exec(REFERENCE_SCHEMA_SQL);
  const rx = await startReceiver();
  await db.exec(`
    INSERT INTO ccdata.users (username, phone, name)
      VALUES ${Array.from({ length: 200 }, (_, i) => `('agent${i}','${2000 + i}','Agent ${i}')`).join(',')};
    INSERT INTO ccdata.dispositions (id, parentId, value) VALUES (1,0,'Sale'),(2,1,'Closed'),(3,2,'Paid');
    UPDATE ccdata.webhooks SET url = '${rx.url}/hook';`);
  const admin = await mysql.createConnection({ uri: db.adminUrl, charset: 'utf8mb4_general_ci' });
  return { db, admin, rx };
}

async function closeEnv(env: Env): Promise<void> {
  await env.admin.end();
  env.rx.proc.kill('SIGTERM');
  await env.db.stop();
}

/** Ceiling (a): zongji alone reading `rows` watched rows from `from`, rows/s. */
async function zongjiCeiling(db: PrivateMariaDb, from: { file: string; pos: number }, rows: number): Promise<number> {
  const u = new URL(db.bridgeUrl);
  const z = new ZongJi({
    host: u.hostname,
    port: Number(u.port),
    user: u.username,
    password: decodeURIComponent(u.password),
    dateStrings: true,
  });
  let seen = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    z.on('error', reject);
    z.on('binlog', (ev: AnyBinlogEvent) => {
      const name = ev.getEventName();
      if (name === 'writerows' || name === 'updaterows' || name === 'deleterows') {
        seen += (ev as { rows: unknown[] }).rows.length;
        if (seen >= rows) resolve();
      }
    });
    z.start({
      serverId: 77_001,
      filename: from.file,
      position: from.pos,
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
      includeSchema: { ccrepo: ['queue_log_repo', 'interactions'] },
    });
  });
  const s = (performance.now() - t0) / 1000;
  z.stop();
  return rows / s;
}

/** Ceiling (b): undici alone, one small JSON POST per request, as many connections as the bridge uses. */
async function undiciCeiling(url: string, n: number): Promise<number> {
  const pool = new Pool(url, { connections: BRIDGE_CONNECTIONS });
  const body = '{"event":"AgentLog","date":"2026-03-02 14:06:00","agent":"jdoe","isLogin":true}';
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const r = await pool.request({
        path: '/hook',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': `ceil-${i}` },
        body,
      });
      await r.body.dump();
    }
  };
  await Promise.all(Array.from({ length: BRIDGE_CONNECTIONS }, worker));
  const s = (performance.now() - t0) / 1000;
  await pool.close();
  return n / s;
}

/**
 * Ceiling (b2): undici alone through dispatch() with a minimal handler (no response stream, no
 * promise per request), the way the bridge's delivery worker calls it.
 */
async function undiciDispatchCeiling(url: string, n: number): Promise<number> {
  const pool = new Pool(url, { connections: BRIDGE_CONNECTIONS });
  const body = '{"event":"AgentLog","date":"2026-03-02 14:06:00","agent":"jdoe","isLogin":true}';
  let next = 0;
  const t0 = performance.now();
  const worker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const one = (): void => {
        if (next >= n) return resolve();
        const i = next++;
        pool.dispatch(
          {
            path: '/hook',
            method: 'POST',
            headers: { 'content-type': 'application/json', 'webhook-id': `ceil-d-${i}` },
            body,
          },
          {
            onRequestStart: () => undefined,
            onResponseStart: () => undefined,
            onResponseData: () => undefined,
            onResponseEnd: one,
            onResponseError: (_c, err) => reject(err),
          },
        );
      };
      one();
    });
  await Promise.all(Array.from({ length: BRIDGE_CONNECTIONS }, worker));
  const s = (performance.now() - t0) / 1000;
  await pool.close();
  return n / s;
}

interface RunResult {
  zongjiRowsPerS: number;
  undiciReqPerS: number;
  undiciDispatchReqPerS: number;
  /** Catch-up over ceiling (b) of the same run. */
  ratioToB: number;
  ratioToB2: number;
  catchUpEventsPerS: number;
  catchUpPeakRssMb: number;
  catchUpCpuS: number;
  readyMs: number;
  liveP50: number;
  liveP95: number;
  liveP99: number;
  liveMax: number;
  liveRssMb: number;
  backlogEnqueueRssMb: number;
  backlogEnqueuePerS: number;
  backlogDrainRssMb: number;
  backlogOutboxMb: number;
  backlogDrainPerS: number;
  backlogFirstAfterUpMs: number;
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function oneRun(env: Env, run: number): Promise<Partial<RunResult>> {
  const out: Partial<RunResult> = {};
  await env.rx.ctl('up');
  await env.rx.ctl('reset');
  const stateDir = mkdtempSync(join(tmpdir(), 'ucw-bench-state-'));
  try {
    // Checkpoint before the backlog: start once, stop, then write the backlog.
    let bridge = await startBridge(env.db, stateDir);
    await waitReady(bridge.port);
    await bridge.stop();
    const from = await masterStatus(env.admin);
    const t0 = Date.now();
    const events = await writeBacklog(env.admin, N);
    // The full mix writes exactly one row per event (ENTERQUEUE rows and disposition pairs even out).
    const rowsWritten = events;
    log(`run ${run}: wrote ${events} events (${Math.round(events / ((Date.now() - t0) / 1000))}/s)`);

    if (!skip.has('ceilings')) {
      out.zongjiRowsPerS = await zongjiCeiling(env.db, from, rowsWritten);
      out.undiciReqPerS = await undiciCeiling(env.rx.url, events);
      await env.rx.ctl('reset');
      out.undiciDispatchReqPerS = await undiciDispatchCeiling(env.rx.url, events);
      await env.rx.ctl('reset');
      log(
        `run ${run}: ceilings zongji ${Math.round(out.zongjiRowsPerS)} ` +
          `rows/s, undici request() ${Math.round(out.undiciReqPerS)} ` +
          `req/s, dispatch() ${Math.round(out.undiciDispatchReqPerS)} req/s`,
      );
    }

    // Catch-up: the bridge starts with a checkpoint before the backlog.
    const started = performance.now();
    bridge = await startBridge(env.db, stateDir);
    const sampler = rssSampler(bridge.proc.pid!);
    await waitDistinct(env.rx, events, 600_000);
    const s = (performance.now() - started) / 1000;
    out.catchUpEventsPerS = events / s;
    out.catchUpPeakRssMb = Math.max(sampler.peakMb(), procStatusKb(bridge.proc.pid!, 'VmHWM') / 1024);
    out.catchUpCpuS = cpuSeconds(bridge.proc.pid!);
    if (out.undiciReqPerS) out.ratioToB = out.catchUpEventsPerS / out.undiciReqPerS;
    if (out.undiciDispatchReqPerS) out.ratioToB2 = out.catchUpEventsPerS / out.undiciDispatchReqPerS;
    const threads = threadCpu(bridge.proc.pid!);
    sampler.stop();
    await bridge.stop();
    log(
      `run ${run}: catch-up ${Math.round(out.catchUpEventsPerS)} events/s, peak ` +
        `RSS ${out.catchUpPeakRssMb.toFixed(0)} MB, CPU ${out.catchUpCpuS.toFixed(1)} s (${threads})`,
    );

    // Start-up with a warm state dir.
    const t1 = performance.now();
    bridge = await startBridge(env.db, stateDir);
    await waitReady(bridge.port);
    out.readyMs = performance.now() - t1;

    if (!skip.has('live')) {
      // Every 10 ms, one autocommit INSERT of the events due by then (10 at 1,000/s).
      const traffic = async (seconds: number): Promise<number> => {
        const tickMs = 10;
        const startAt = Date.now();
        const endAt = startAt + seconds * 1000;
        let written = 0;
        let nextAt = startAt;
        while (Date.now() < endAt) {
          const due = Math.floor(((Date.now() - startAt) * LIVE_RATE) / 1000) + 1 - written;
          if (due > 0) {
            await env.admin.query(
              `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, ` +
                `event, data1, data2) VALUES ${liveRows(due, Date.now()).join(',')}`,
            );
            written += due;
          }
          nextAt += tickMs;
          await sleep(Math.max(0, nextAt - Date.now()));
        }
        return written;
      };
      // Warm-up, not measured: the first second after a start (JIT, opening connections) is slower.
      await env.rx.ctl('reset');
      await waitDistinct(env.rx, await traffic(LIVE_WARMUP_SECONDS), 60_000);
      await env.rx.ctl('reset');
      const live = rssSampler(bridge.proc.pid!);
      const written = await traffic(LIVE_SECONDS);
      await waitDistinct(env.rx, written, 60_000);
      const arrival = (await env.rx.stats(true)).latencies;
      mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
      writeFileSync(join(ROOT, 'bench', 'out', `live-latencies-run${run}.json`), JSON.stringify(arrival));
      const lat = [...arrival].sort((a, b) => a - b);
      out.liveP50 = percentile(lat, 50);
      out.liveP95 = percentile(lat, 95);
      out.liveP99 = percentile(lat, 99);
      out.liveMax = lat[lat.length - 1] ?? NaN;
      out.liveRssMb = live.peakMb();
      live.stop();
      log(
        `run ${run}: live ${written} events at ${LIVE_RATE}/s: p50 ${out.liveP50} ms, ` +
          `p99 ${out.liveP99} ms, max ${out.liveMax} ms, peak RSS ${out.liveRssMb.toFixed(0)} MB`,
      );
    }
    await bridge.stop();

    if (!skip.has('backlog')) {
      await env.rx.ctl('reset');
      await env.rx.ctl('down');
      bridge = await startBridge(env.db, stateDir);
      await waitReady(bridge.port);
      const enq = rssSampler(bridge.proc.pid!);
      const enqStart = performance.now();
      const blEvents = await writeBacklog(env.admin, BACKLOG);
      // Everything enqueued: the outbox holds them all (the receiver answers 503 meanwhile).
      const metricsUrl = `http://127.0.0.1:${bridge.port}/metrics`;
      for (;;) {
        const text = await (await fetch(metricsUrl)).text();
        const m = /^ucw_outbox_pending (\S+)$/m.exec(text);
        if (m && Number(m[1]) >= blEvents) break;
        await sleep(200);
      }
      // Written while the bridge reads: the rate is that of the slower of the two (the bridge, here).
      out.backlogEnqueuePerS = blEvents / ((performance.now() - enqStart) / 1000);
      out.backlogEnqueueRssMb = enq.peakMb();
      enq.stop();
      out.backlogOutboxMb =
        ['outbox.sqlite', 'outbox.sqlite-wal'].reduce((n, f) => {
          try {
            return n + statSync(join(stateDir, f)).size;
          } catch {
            return n;
          }
        }, 0) /
        1024 /
        1024;
      const drain = rssSampler(bridge.proc.pid!);
      const upAt = Date.now();
      await env.rx.ctl('up');
      await waitDistinct(env.rx, blEvents, 1_800_000);
      // From the first event that got through (the held URL's next probe) to the last.
      const { firstAt, lastAt } = await env.rx.stats();
      out.backlogDrainPerS = blEvents / (Math.max(1, lastAt - firstAt) / 1000);
      out.backlogFirstAfterUpMs = firstAt - upAt;
      out.backlogDrainRssMb = drain.peakMb();
      drain.stop();
      await bridge.stop();
      log(
        `run ${run}: backlog ${blEvents}: enqueued ${Math.round(out.backlogEnqueuePerS)}/s, RSS ` +
          `enqueue ${out.backlogEnqueueRssMb.toFixed(0)} MB, drain ${out.backlogDrainRssMb.toFixed(0)} ` +
          `MB, outbox ${out.backlogOutboxMb.toFixed(0)} MB, drain ${Math.round(out.backlogDrainPerS)}/s`,
      );
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  return out;
}

const BENCH_START = Date.now();
/** Progress on stderr, stamped with seconds since the bench started. */
function log(line: string): void {
  process.stderr.write(`[${((Date.now() - BENCH_START) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
}

const ROWS: Array<[keyof RunResult, string, string, (v: number) => string]> = [
  ['zongjiRowsPerS', 'ceiling (a): zongji alone, backlog', 'rows/s', (v) => v.toFixed(0)],
  ['undiciReqPerS', 'ceiling (b): undici alone, request(), 1 event/POST', 'req/s', (v) => v.toFixed(0)],
  ['undiciDispatchReqPerS', 'ceiling (b2): undici alone, dispatch(), 1 event/POST', 'req/s', (v) => v.toFixed(0)],
  ['catchUpEventsPerS', `catch-up, ${N} events`, 'events/s', (v) => v.toFixed(0)],
  ['catchUpPeakRssMb', 'catch-up peak RSS', 'MB', (v) => v.toFixed(0)],
  ['catchUpCpuS', 'catch-up CPU (user+sys)', 's', (v) => v.toFixed(1)],
  ['liveP50', `live ${LIVE_RATE}/s for ${LIVE_SECONDS}s: p50`, 'ms', (v) => v.toFixed(0)],
  ['liveP95', 'live p95', 'ms', (v) => v.toFixed(0)],
  ['liveP99', 'live p99', 'ms', (v) => v.toFixed(0)],
  ['liveMax', 'live max', 'ms', (v) => v.toFixed(0)],
  ['liveRssMb', 'live peak RSS', 'MB', (v) => v.toFixed(0)],
  ['backlogEnqueueRssMb', `backlog ${BACKLOG}: peak RSS enqueuing`, 'MB', (v) => v.toFixed(0)],
  ['backlogEnqueuePerS', 'backlog: enqueue rate (writing and reading at once)', 'events/s', (v) => v.toFixed(0)],
  ['backlogDrainRssMb', 'backlog: peak RSS draining', 'MB', (v) => v.toFixed(0)],
  ['backlogOutboxMb', 'backlog: outbox on disk', 'MB', (v) => v.toFixed(0)],
  ['backlogDrainPerS', 'backlog: drain rate (first to last arrival)', 'events/s', (v) => v.toFixed(0)],
  ['backlogFirstAfterUpMs', 'backlog: receiver up to first arrival (held URL probe)', 'ms', (v) => v.toFixed(0)],
  ['readyMs', 'start-up to /readyz 200 (warm state)', 'ms', (v) => v.toFixed(0)],
  ['ratioToB', 'catch-up / ceiling (b), same run', 'ratio', (v) => v.toFixed(2)],
  ['ratioToB2', 'catch-up / ceiling (b2), same run', 'ratio', (v) => v.toFixed(2)],
];

async function main(): Promise<void> {
  const results: Array<Partial<RunResult>> = [];
  // One MariaDB and one receiver for all runs; each run has its own backlog and its own state dirs.
  const env = await freshEnv();
  try {
    for (let r = 1; r <= RUNS; r++) results.push(await oneRun(env, r));
  } finally {
    await closeEnv(env);
  }
  const summary: Record<string, { median: number; min: number; max: number; unit: string }> = {};
  const lines = ['| measure | median | min | max | unit |', '|---|---:|---:|---:|---|'];
  for (const [key, label, unit, fmt] of ROWS) {
    const vals = results
      .map((x) => x[key])
      .filter((v): v is number => typeof v === 'number' && !Number.isNaN(v))
      .sort((a, b) => a - b);
    if (vals.length === 0) continue;
    const s = { median: vals[Math.floor(vals.length / 2)]!, min: vals[0]!, max: vals[vals.length - 1]!, unit };
    summary[key] = s;
    lines.push(`| ${label} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${unit} |`);
  }
  const ratio = summary.ratioToB?.median;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const table = lines.join('\n');
  const wall = `${Math.round((Date.now() - BENCH_START) / 1000)} s`;
  process.stdout.write(
    `\n${machine}; runs: ${RUNS}; wall time ${wall}; receiver: ${RECEIVER.label}, in its own process\n\n${table}\n`,
  );
  mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'out', 'results.json'),
    JSON.stringify(
      { machine, runs: RUNS, wall, receiver: RECEIVER.label, flags, summary, ratioToUndiciCeiling: ratio, results },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
