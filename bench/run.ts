// `npm run bench`: measures the bridge end to end on this machine against a private MariaDB and
// receivers in their own processes, each scenario beside the ceiling of undici alone to the same
// receiver measured in the same run. One line per scenario: throughput, CPU, peak RSS and how RSS
// settles after the drain. Prints a table and writes bench/out/results.json.
// `--quick`: the same scenarios at smaller sizes (under 3 minutes); `--only WORD`: scenarios whose
// name holds WORD (repeatable); BENCH_CLI=/path/to/dist/cli.js runs another build (paired runs).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Env, type Row } from './lib/env.js';
import { log, ROOT, setSettleTimeout, wallSeconds } from './lib/procs.js';
import { backlog, directorySize, storeSize } from './scenarios/store.js';
import { catchUp, fanOut20, oneEventEach } from './scenarios/throughput.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true, default: [] },
  },
});
const Q = flags.quick;
/** Sizes: full, or --quick. */
const size = (full: number, quick: number): number => (Q ? quick : full);
const LIVE = { rate: 1000, seconds: size(20, 5), warmupSeconds: size(3, 1) };
setSettleTimeout(size(30_000, 10_000));

type Scenario = [name: string, run: (env: Env) => Promise<Row[]>];
const one = (p: Promise<Row>): Promise<Row[]> => p.then((r) => [r]);

const SCENARIOS: Scenario[] = [
  [
    'c receiver',
    (env) =>
      catchUp(env, { scenario: 'catch-up, C receiver', receiver: 'c', events: size(100_000, 30_000), live: LIVE }),
  ],
  [
    'node receiver',
    (env) =>
      catchUp(env, {
        scenario: 'catch-up, node receiver',
        receiver: 'node',
        events: size(50_000, 12_000),
        live: LIVE,
      }),
  ],
  [
    'slow receiver',
    (env) =>
      catchUp(env, {
        scenario: 'catch-up, slow receiver (5 ms)',
        receiver: 'slow',
        events: size(50_000, 8_000),
        live: LIVE,
      }),
  ],
  [
    'fan-out 20',
    (env) =>
      catchUp(env, {
        scenario: 'fan-out: 20 URLs for every event',
        receiver: 'c',
        events: size(5_000, 1_300),
        paths: fanOut20,
      }),
  ],
  [
    'fan-out 200',
    (env) =>
      catchUp(env, {
        scenario: 'fan-out: 200 URLs, one event each',
        receiver: 'c',
        events: size(3_120, 780),
        paths: oneEventEach(200),
      }),
  ],
  [
    'keys 20',
    (env) => catchUp(env, { scenario: 'keys: 20 agents', receiver: 'c', events: size(100_000, 20_000), agents: 20 }),
  ],
  [
    'keys 10000',
    (env) =>
      catchUp(env, { scenario: 'keys: 10,000 agents', receiver: 'c', events: size(100_000, 20_000), agents: 10_000 }),
  ],
  ['backlog', (env) => one(backlog(env, size(1_000_000, 50_000)))],
  ['store', (env) => one(storeSize(env, size(10_000_000, 300_000), 1000, size(20, 5)))],
  ['directory', (env) => one(directorySize(env, 50_000, 5_000))],
];

const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');
const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '-');

function table(rows: Row[]): string {
  const head =
    '| scenario | events | deliveries | events/s | deliveries/s | ceiling req/s | ratio | CPU s / 10k events ' +
    '| machine busy % | machine CPU us / delivery (undici alone: / request) ' +
    '| peak RSS MB | settled RSS MB | to < 150 MB | notes |';
  const lines = [head, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const ratio = r.paced ? NaN : r.deliveriesPerS / r.ceiling;
    const settle = Number.isNaN(r.settleMs) ? 'not in time' : `${(r.settleMs / 1000).toFixed(1)} s`;
    const machine = r.machine ? `${f0(r.machine.cpuUs)} (${f0(r.ceilingCpuUs ?? NaN)})` : '-';
    lines.push(
      `| ${r.scenario} | ${r.events || '-'} | ${r.deliveries || '-'} | ${f0(r.eventsPerS)} | ${f0(r.deliveriesPerS)} ` +
        `| ${f0(r.ceiling)} | ${f2(ratio)} | ${f1(r.cpuPer10k)} | ${f0(r.machine?.busyPct ?? NaN)} | ${machine} ` +
        `| ${f0(r.peakMb)} | ${f0(r.settledMb)} | ${settle} | ${r.note} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const only = flags.only;
  const chosen = SCENARIOS.filter(([name]) => only.length === 0 || only.some((w) => name.includes(w)));
  const rows: Row[] = [];
  const env = await Env.start();
  try {
    for (const [name, run] of chosen) {
      log(`scenario: ${name}`);
      for (const row of await run(env)) {
        rows.push(row);
        log(table([row]).split('\n')[2]!);
      }
    }
  } finally {
    await env.close();
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const wall = `${Math.round(wallSeconds())} s`;
  const out = table(rows);
  process.stdout.write(`\n${machine}; ${Q ? 'quick' : 'full'} sizes; wall time ${wall}\n\n${out}\n`);
  mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'out', 'results.json'), JSON.stringify({ machine, wall, flags, rows }, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
