// Processes the bench starts and what it reads of them: receivers (C, node, slow node), the bridge
// started exactly as the installed command starts it, and /proc probes (RSS, CPU).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import type { PrivateMariaDb } from '../../demo/mariadb.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** BENCH_CLI runs another build (e.g. the old code's, for a paired run). */
const CLI = process.env.BENCH_CLI ?? join(ROOT, 'dist', 'cli.js');
const CLOCK_TICKS_PER_S = 100;
/** What "settled" means for RSS (issue 15) and how long it may take. */
export const SETTLED_MB = 150;
/** How long settle() waits at most: 30 s (--settle-seconds; the quick bench waits less). */
let settleTimeoutMs = 30_000;
export const setSettleTimeout = (ms: number): void => void (settleTimeoutMs = ms);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const BENCH_START = Date.now();
/** Progress on stderr, stamped with seconds since the bench started. */
export function log(line: string): void {
  process.stderr.write(`[${((Date.now() - BENCH_START) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
}
export const wallSeconds = (): number => (Date.now() - BENCH_START) / 1000;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface RxStats {
  requests: number;
  distinct: number;
  firstAt: number;
  lastAt: number;
  latencies: number[];
}

export interface Receiver {
  kind: ReceiverKind;
  url: string;
  proc: ChildProcess;
  stats(withLatencies?: boolean): Promise<RxStats>;
  ctl(cmd: 'reset' | 'down' | 'up'): Promise<void>;
  stop(): void;
}

/**
 * c: bench/receiver.c built with the system C compiler (takes little CPU from the bridge on a 2-core
 * machine); node: bench/receiver.ts (the tests' demo/receiver.ts); slow: the node one answering each
 * request after 5 ms (at the bridge's 32 connections per URL, at most 6,400 requests/s).
 */
export type ReceiverKind = 'c' | 'node' | 'slow';
export const SLOW_RECEIVER_DELAY_MS = 5;

function receiverCommand(kind: ReceiverKind): string[] {
  const node = [process.execPath, '--import', 'tsx', join(ROOT, 'bench', 'receiver.ts')];
  if (kind === 'slow') return [...node, String(SLOW_RECEIVER_DELAY_MS)];
  if (kind === 'node') return node;
  const bin = join(ROOT, 'bench', 'out', 'receiver');
  mkdirSync(dirname(bin), { recursive: true });
  const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', bin, join(ROOT, 'bench', 'receiver.c')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (cc.status !== 0) throw new Error(`cannot build bench/receiver.c: ${cc.error?.message ?? cc.stderr.toString()}`);
  return [bin];
}

export async function startReceiver(kind: ReceiverKind): Promise<Receiver> {
  const command = receiverCommand(kind);
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    proc.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    kind,
    url,
    proc,
    stats: async (withLatencies = false) =>
      (await (
        await fetch(`${url}/ctl/stats`, { headers: withLatencies ? { 'x-with-latencies': '1' } : {} })
      ).json()) as RxStats,
    ctl: async (cmd) => void (await fetch(`${url}/ctl/${cmd}`, { method: 'POST' })).arrayBuffer(),
    stop: () => void proc.kill('SIGTERM'),
  };
}

/** Waits until the receiver has `n` distinct events (`by: 'distinct'`) or `n` requests. */
export async function waitReceived(
  rx: Receiver,
  n: number,
  timeoutMs: number,
  by: 'distinct' | 'requests' = 'distinct',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = (await rx.stats())[by];
    if (got >= n) return;
    if (Date.now() > until) throw new Error(`receiver has ${got}/${n} ${by} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface Bridge {
  proc: ChildProcess;
  pid: number;
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

/** The space-separated words of an environment variable (none when unset). */
const envWords = (name: string): string[] => (process.env[name] ?? '').split(' ').filter(Boolean);

/**
 * Runs the bridge as the `ucontact-webhooks` command runs, with its shebang's node flags;
 * BENCH_BRIDGE_NODE_ARGS adds some (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'), BENCH_BRIDGE_STDOUT
 * names a file for its standard output (e.g. with '--trace-gc'), BENCH_BRIDGE_ARGS adds bridge options
 * (e.g. '--max-buffered-bytes 8388608'). `args`: more options.
 */
export async function startBridge(db: PrivateMariaDb, stateDir: string, args: string[] = []): Promise<Bridge> {
  const launch = cliLaunch();
  const port = await freePort();
  const nodeArgs = [...launch.nodeFlags, ...envWords('BENCH_BRIDGE_NODE_ARGS')];
  const cli = ['run', '--mysql-url', db.bridgeUrl, '--state-dir', stateDir, '--http-port', String(port)];
  const extra = envWords('BENCH_BRIDGE_ARGS');
  const proc = spawn(process.execPath, [...nodeArgs, CLI, ...cli, '--log-level', 'warn', ...args, ...extra], {
    stdio: [
      'ignore',
      process.env.BENCH_BRIDGE_STDOUT ? openSync(process.env.BENCH_BRIDGE_STDOUT, 'a') : 'ignore',
      'inherit',
    ],
    env: { ...process.env, ...launch.env },
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    pid: proc.pid!,
    port,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function waitReady(port: number, timeoutMs = 120_000): Promise<void> {
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

export function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // process gone
  }
}

export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/**
 * The whole machine's CPU since boot, in core-seconds (/proc/stat): busy (every process and the
 * kernel), stolen by the hypervisor, idle. A delta over a run says whether it was CPU bound.
 */
export interface MachineCpu {
  busy: number;
  steal: number;
  idle: number;
}
export function machineCpu(): MachineCpu {
  // cpu  user nice system idle iowait irq softirq steal (guest time is inside user)
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, ...number[]];
  return {
    busy: (user + nice! + system! + irq! + softirq!) / CLOCK_TICKS_PER_S,
    steal: steal! / CLOCK_TICKS_PER_S,
    idle: (idle! + iowait!) / CLOCK_TICKS_PER_S,
  };
}
export function machineCpuSince(t0: MachineCpu): MachineCpu {
  const t = machineCpu();
  return { busy: t.busy - t0.busy, steal: t.steal - t0.steal, idle: t.idle - t0.idle };
}

/** CPU seconds per thread of `pid`, the busiest first: "name 12.3 s", for the progress log. */
export function threadCpu(pid: number): string {
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

/** Peak RSS of `pid`, sampled every 100 ms (and the kernel's high-water mark when asked). */
export function rssSampler(pid: number): { peakMb: () => number; stop: () => void } {
  let peak = 0;
  const t = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  return { peakMb: () => peak, stop: () => clearInterval(t) };
}

/**
 * After a drain: how long RSS takes to get under SETTLED_MB (NaN if it does not within
 * the settle timeout) and the RSS then (or at the timeout).
 */
export async function settle(pid: number): Promise<{ settledMb: number; settleMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const mb = rssMb(pid);
    const ms = Date.now() - t0;
    if (mb < SETTLED_MB) return { settledMb: mb, settleMs: ms };
    if (ms >= settleTimeoutMs) return { settledMb: mb, settleMs: NaN };
    await sleep(250);
  }
}

export async function masterStatus(c: Connection): Promise<{ file: string; pos: number }> {
  const [rows] = (await c.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number }>];
  return { file: rows[0]!.File, pos: Number(rows[0]!.Position) };
}

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
