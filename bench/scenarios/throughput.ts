// Scenarios that time the bridge end to end: a catch-up (a backlog written while the bridge was
// stopped, read and delivered), live traffic after it, to one or many URLs, with few or many keys.

import type { Env, Row } from '../lib/env.js';
import { measuredAgainst, MIX } from '../lib/env.js';
import { liveTraffic, writeBacklog } from '../lib/load.js';
import {
  cpuSeconds,
  log,
  machineCpu,
  machineCpuSince,
  percentile,
  rssMb,
  rssSampler,
  settle,
  startBridge,
  threadCpu,
  waitReady,
  waitReceived,
  type ReceiverKind,
} from '../lib/procs.js';

export interface CatchUpSpec {
  scenario: string;
  receiver: ReceiverKind;
  events: number;
  /** URLs of each event, by path on the receiver (default: one URL, /hook). */
  paths?: (event: string) => string[];
  agents?: number;
  /** Then live traffic at this rate for `seconds` on the same state (another row), after `warmupSeconds`. */
  live?: { rate: number; seconds: number; warmupSeconds: number };
}

/**
 * A catch-up: the bridge starts once (snapshot, checkpoint) and stops, the backlog is written, and
 * the bridge starts again and delivers it. Rows: the catch-up, and the live run if asked.
 */
export async function catchUp(env: Env, spec: CatchUpSpec): Promise<Row[]> {
  const rx = await env.receiver(spec.receiver);
  const paths = spec.paths ?? (() => ['/hook']);
  await env.setWebhooks((event) => paths(event).map((p) => `${rx.url}${p}`));
  const ceilingN = Math.min(100_000, Math.max(20_000, spec.events));
  const before = await env.ceiling(spec.receiver, ceilingN);
  const dir = env.stateDir();
  try {
    let bridge = await startBridge(env.db, dir);
    await waitReady(bridge.port);
    await bridge.stop();
    const events = await writeBacklog(env.admin, spec.events, spec.agents);
    const units = events / 13;
    const deliveries = units * MIX.reduce((n, [event, count]) => n + count * paths(event).length, 0);
    await rx.ctl('reset');
    const t0 = performance.now();
    const wallT0 = Date.now();
    const machine0 = machineCpu();
    bridge = await startBridge(env.db, dir);
    const sampler = rssSampler(bridge.pid);
    // The same event goes to many URLs with one webhook-id: count requests then.
    await waitReceived(
      rx,
      deliveries === events ? events : deliveries,
      900_000,
      deliveries === events ? 'distinct' : 'requests',
    );
    const s = (performance.now() - t0) / 1000;
    const machine = machineCpuSince(machine0);
    const cpu = cpuSeconds(bridge.pid);
    const { firstAt, lastAt } = await rx.stats();
    const peakMb = Math.max(sampler.peakMb(), rssMb(bridge.pid, 'VmHWM'));
    sampler.stop();
    log(`${spec.scenario}: ${events} events, ${deliveries} deliveries in ${s.toFixed(1)} s; ${threadCpu(bridge.pid)}`);
    const settled = await settle(bridge.pid);
    await bridge.stop();
    const against = measuredAgainst(before, await env.ceiling(spec.receiver, ceilingN), machine, deliveries);
    const rows: Row[] = [
      {
        scenario: spec.scenario,
        events,
        deliveries,
        eventsPerS: events / s,
        deliveriesPerS: deliveries / s,
        ...against.fields,
        cpuPer10k: (cpu / events) * 10_000,
        peakMb,
        ...settled,
        // The receiver times arrivals of new webhook-ids: a rate from them only when each has one URL.
        note:
          `${against.note}; ` +
          `first arrival ${Math.round(firstAt - wallT0)} ms after start` +
          (deliveries === events ? `, then ${Math.round((deliveries / (lastAt - firstAt)) * 1000)} deliveries/s` : ''),
      },
    ];
    if (spec.live) rows.push(await live(env, spec, dir, against.fields.ceiling));
    return rows;
  } finally {
    env.dropDir(dir);
  }
}

/** Live traffic to a bridge restarted on a warm state dir: latency from the row's time to arrival. */
async function live(env: Env, spec: CatchUpSpec, dir: string, ceiling: number): Promise<Row> {
  const { rate, seconds, warmupSeconds } = spec.live!;
  const rx = await env.receiver(spec.receiver);
  const t0 = performance.now();
  const bridge = await startBridge(env.db, dir);
  await waitReady(bridge.port);
  const readyMs = performance.now() - t0;
  await waitReceived(rx, await liveTraffic(env.admin, rate, warmupSeconds), 60_000);
  await rx.ctl('reset');
  const cpu0 = cpuSeconds(bridge.pid);
  const sampler = rssSampler(bridge.pid);
  const written = await liveTraffic(env.admin, rate, seconds);
  await waitReceived(rx, written, 60_000);
  const cpu = cpuSeconds(bridge.pid) - cpu0;
  const lat = [...(await rx.stats(true)).latencies].sort((a, b) => a - b);
  const peakMb = sampler.peakMb();
  sampler.stop();
  const settled = await settle(bridge.pid);
  await bridge.stop();
  const [p50, p99, max] = [percentile(lat, 50), percentile(lat, 99), lat.at(-1) ?? NaN];
  return {
    scenario: `${spec.scenario.replace('catch-up', 'live')} ${rate}/s ${seconds}s`,
    events: written,
    deliveries: written,
    eventsPerS: written / seconds,
    deliveriesPerS: written / seconds,
    ceiling,
    cpuPer10k: (cpu / written) * 10_000,
    peakMb,
    ...settled,
    paced: true,
    note: `p50 ${p50} ms, p99 ${p99} ms, max ${max} ms; ready ${Math.round(readyMs)} ms (warm)`,
  };
}

/** 20 URLs for every event: each event delivered 20 times. */
export const fanOut20 = (): string[] => Array.from({ length: 20 }, (_, i) => `/hook/f${i}`);

/** 200 URLs, each registered for one event of the mix (in turn): ~33 URLs per event. */
export function oneEventEach(urls: number): (event: string) => string[] {
  const byEvent = new Map<string, string[]>(MIX.map(([e]) => [e, []]));
  for (let i = 0; i < urls; i++) byEvent.get(MIX[i % MIX.length]![0])!.push(`/hook/u${i}`);
  return (event) => byEvent.get(event)!;
}
