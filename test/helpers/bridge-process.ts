// Runs the built CLI (`node dist/cli.js run ...`) as a child process, as an operator would, and
// collects its JSON log lines. Stopped by PID: SIGTERM for a clean stop, SIGKILL for a crash.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';
import { EXIT_TIMEOUT_MS, exitWithin, tail } from './child-exit.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(PROJECT_ROOT, 'dist', 'cli.js');

export type LogLine = Record<string, unknown> & { level: string; msg: string };

export interface BridgeProcess {
  readonly pid: number;
  readonly logs: LogLine[];
  readonly stderr: string[];
  /** Port of /healthz, /readyz, /metrics, read from the "bridge started" log line. */
  readonly httpPort: () => number;
  /** The raw exit; never awaited alone in a test (use waitExit): a bridge that stays up would hang it. */
  readonly exited: Promise<number | null>;
  /** The exit code, within `timeoutMs`; past it the bridge is SIGKILLed and this fails with its last logs. */
  waitExit(timeoutMs?: number): Promise<number | null>;
  waitForLog(pred: (l: LogLine) => boolean, message?: string, timeoutMs?: number): Promise<LogLine>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit code (bounded as waitExit). */
  stop(): Promise<number | null>;
  /** SIGKILL, then the exit code (bounded as waitExit). */
  kill(): Promise<number | null>;
  /** Any signal (SIGINT: an operator's Ctrl-C), then the exit code (bounded as waitExit). */
  stopWith(sig: NodeJS.Signals): Promise<number | null>;
}

export interface BridgeProcessOptions {
  /** Undefined: no --mysql-url flag (the URL then comes from the environment or a file). */
  readonly mysqlUrl: string | undefined;
  readonly stateDir: string;
  /** Extra flags; one named like a default (--log-level, a FAST_ARGS flag) replaces that default. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Short retry/backoff settings so tests exercise the real schedule quickly. */
export const FAST_ARGS = [
  '--retry-base-ms',
  '100',
  '--retry-max-ms',
  '400',
  '--reconnect-min-ms',
  '100',
  '--reconnect-max-ms',
  '500',
  '--heartbeat-seconds',
  '1',
  '--request-timeout-ms',
  '3000',
  '--shutdown-grace-ms',
  '2000',
];

/** Children still running; SIGKILLed if the test process exits first, so none is ever orphaned. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export function startBridgeProcess(opts: BridgeProcessOptions): BridgeProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  // A flag given in opts.args replaces the default of the same name (the CLI refuses a repeated flag).
  const given = new Set((opts.args ?? []).filter((a) => a.startsWith('--')));
  const defaults = ['--http-port', '0', '--log-level', 'debug', ...FAST_ARGS];
  const kept: string[] = [];
  for (let i = 0; i < defaults.length; i += 2) if (!given.has(defaults[i]!)) kept.push(defaults[i]!, defaults[i + 1]!);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'run',
      ...(opts.mysqlUrl === undefined ? [] : ['--mysql-url', opts.mysqlUrl]),
      '--state-dir',
      opts.stateDir,
      ...kept,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 'raw', msg: line });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const describe = (): string =>
    `bridge pid ${child.pid}; last logs:\n${logs
      .slice(-15)
      .map((l) => JSON.stringify(l))
      .join('\n')}\nstderr: ${stderr.join('')}`;

  const waitForLog = (pred: (l: LogLine) => boolean, message = 'log line', timeoutMs = 20_000): Promise<LogLine> =>
    waitFor(() => logs.find(pred), { timeoutMs, message: () => `${message} not seen; ${describe()}` });

  const waitExit = (timeoutMs = EXIT_TIMEOUT_MS): Promise<number | null> =>
    exitWithin(child, exited, describe, timeoutMs);
  const signal = async (sig: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    return waitExit();
  };

  return {
    pid: child.pid!,
    logs,
    stderr,
    exited,
    waitExit,
    httpPort: () => {
      const started = logs.find((l) => l.msg === 'bridge started');
      if (!started) throw new Error(`bridge not started yet; ${describe()}`);
      return started.httpPort as number;
    },
    waitForLog,
    waitReady: async (timeoutMs = 20_000) => {
      await waitForLog((l) => l.msg === 'bridge started', 'bridge started', timeoutMs);
      const port = logs.find((l) => l.msg === 'bridge started')!.httpPort as number;
      await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          await res.arrayBuffer();
          return res.status === 200;
        },
        { timeoutMs, message: () => `bridge never ready; ${describe()}` },
      );
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    stopWith: signal,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one short CLI command (`node dist/cli.js ...args`) to its end, as an operator would; past
 * `timeoutMs` it is SIGKILLed and this fails with its output.
 */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = EXIT_TIMEOUT_MS,
): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const closed = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const describe = (): string => `\`${args.join(' ')}\`; stdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`;
  const code = await exitWithin(child, closed, describe, timeoutMs);
  return { code, stdout, stderr };
}
