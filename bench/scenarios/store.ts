// Scenarios about size: a large outbox (disk per delivery, prune rate, live latency while pruning), a
// large directory (first start), and the held-URL backlog (enqueued while the receiver is down).

import Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LAST_SUCCESS_UPSERT_SQL } from '../../src/outbox/schema.js';
import { OUTBOX_FILE } from '../../src/outbox/state-store.js';
import type { Env, Row } from '../lib/env.js';
import { ceilingRate, measuredAgainst } from '../lib/env.js';
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
  sleep,
  startBridge,
  waitReady,
  waitReceived,
} from '../lib/procs.js';

const HOUR_MS = 3_600_000;
/** The bridge's --delivered-retention-hours in the store scenario; the rows built are older. */
const RETENTION_HOURS = 24;
const BODY =
  '{"event":"AgentLog","date":"2026-03-02 14:06:00.123","agent":"agent17","agentName":"Agent 17",' +
  '"isLogin":true,"ucontactVersion":"8.0","id":"00000000-0000-0000-0000-000000000000","timestamp":1772460360123}';

function storeBytes(dir: string): number {
  let n = 0;
  for (const f of [OUTBOX_FILE, `${OUTBOX_FILE}-wal`]) {
    try {
      n += statSync(join(dir, f)).size;
    } catch {
      // no WAL
    }
  }
  return n;
}

/**
 * `n` delivered events (one delivery each) past retention, appended to the state store of `dir`
 * through its own tables (SQLite bulk inserts in one connection, not the binlog).
 */
function buildStore(dir: string, n: number, url: string): void {
  const db = new Database(join(dir, OUTBOX_FILE));
  db.pragma('synchronous = OFF');
  const old = Date.now() - 2 * RETENTION_HOURS * HOUR_MS;
  const ev = db.prepare(
    'INSERT INTO events (seq, id, name, order_key, occurred_at_ms, body, source_file, source_pos, created_at_ms) ' +
      "VALUES (?, ?, 'AgentLog', ?, ?, ?, 'bench-bin.000001', ?, ?)",
  );
  const dl = db.prepare(
    'INSERT INTO deliveries (event_seq, url, status, attempts, next_attempt_at_ms, first_attempt_at_ms, ' +
      'created_at_ms, updated_at_ms, last_status) VALUES (?, ?, 1, 1, ?, ?, ?, ?, 204)',
  );
  const base = ((db.prepare('SELECT MAX(seq) FROM events').pluck().get() as number | null) ?? 0) + 1;
  const CHUNK = 100_000;
  for (let from = 0; from < n; from += CHUNK) {
    db.transaction(() => {
      for (let i = from; i < Math.min(n, from + CHUNK); i++) {
        const seq = base + i;
        const at = old + i;
        const id = `b${String(seq).padStart(11, '0')}-0000-4000-8000-000000000000`;
        ev.run(seq, id, `agent:agent${i % 200}`, at, BODY, i, at);
        dl.run(seq, url, at, at, at, at);
      }
    })();
  }
  // As the bridge's outcome writer leaves it: without this row the next open reads every delivered
  // row to find the URL's last success, as after an upgrade (docs/operations.md), not a usual start.
  db.prepare(LAST_SUCCESS_UPSERT_SQL).run(url, old + n - 1);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // On disk before the bridge starts: with synchronous OFF the build leaves ~400 MB dirty in the page
  // cache, and the bridge's first checkpoint (its fsync) then wrote it all back while live traffic waited.
  const fd = openSync(join(dir, OUTBOX_FILE), 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The oldest delivered row's time (rows are pruned oldest first), read-only beside the bridge. */
function oldestDone(dir: string): number | null {
  const db = new Database(join(dir, OUTBOX_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT MIN(updated_at_ms) FROM deliveries WHERE status IN (1, 4)').pluck().get() as
      number | null;
  } finally {
    db.close();
  }
}

export async function storeSize(env: Env, rows: number, rate: number, seconds: number): Promise<Row> {
  const rx = await env.receiver('c');
  await env.setWebhooks(() => [`${rx.url}/hook`]);
  const ceiling = ceilingRate(await env.ceiling('c', 20_000));
  const dir = env.stateDir();
  try {
    let bridge = await startBridge(env.db, dir);
    await waitReady(bridge.port);
    await bridge.stop();
    const t0 = performance.now();
    buildStore(dir, rows, `${rx.url}/hook`);
    const buildS = (performance.now() - t0) / 1000;
    const perDelivery = storeBytes(dir) / rows;
    log(`store: ${rows} delivered rows built in ${buildS.toFixed(0)} s, ${perDelivery.toFixed(0)} bytes each`);
    const t1 = performance.now();
    // Retention set here, half the rows' age: the scenario must not depend on the default (7 days).
    bridge = await startBridge(env.db, dir, ['--delivered-retention-hours', String(RETENTION_HOURS)]);
    const sampler = rssSampler(bridge.pid);
    await waitReady(bridge.port);
    const readyMs = performance.now() - t1;
    const first = oldestDone(dir);
    // The first prune pass starts 5 s after start-up; live traffic runs through it.
    for (let i = 0; i < 200 && oldestDone(dir) === first; i++) await sleep(50);
    await rx.ctl('reset');
    const cpu0 = cpuSeconds(bridge.pid);
    // The built rows are 1 ms apart from `first`: how far pruning got, as a time, is a count of them.
    // Live deliveries are delivered rows too, newer than all of them: past the built rows means done.
    const builtEnd = first! + rows;
    const prunedUpTo = (): number => Math.min(oldestDone(dir) ?? builtEnd, builtEnd);
    const from = prunedUpTo();
    const tp = performance.now();
    let doneAt = NaN;
    const watch = setInterval(() => {
      if (Number.isNaN(doneAt) && prunedUpTo() === builtEnd) doneAt = performance.now();
    }, 500);
    const written = await liveTraffic(env.admin, rate, seconds);
    clearInterval(watch);
    const to = prunedUpTo();
    const pruneS = ((Number.isNaN(doneAt) ? performance.now() : doneAt) - tp) / 1000;
    const pruned = to - from;
    if (!(pruned > 0)) throw new Error(`store: nothing was pruned while live (oldest row ${from} -> ${to})`);
    await waitReceived(rx, written, 60_000);
    const cpu = cpuSeconds(bridge.pid) - cpu0;
    const lat = [...(await rx.stats(true)).latencies].sort((a, b) => a - b);
    const peakMb = Math.max(sampler.peakMb(), rssMb(bridge.pid, 'VmHWM'));
    sampler.stop();
    const settled = await settle(bridge.pid);
    await bridge.stop();
    return {
      scenario: `store ${rows} delivered: live ${rate}/s while pruning`,
      events: written,
      deliveries: written,
      eventsPerS: written / seconds,
      deliveriesPerS: written / seconds,
      ceiling,
      cpuPer10k: (cpu / written) * 10_000,
      peakMb,
      ...settled,
      paced: true,
      note:
        `disk ${perDelivery.toFixed(0)} B/delivery (built in ${buildS.toFixed(0)} s); ` +
        `pruned ${Math.round(pruned / pruneS)} rows/s while live; ` +
        `p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${lat.at(-1)} ms; ` +
        `ready ${Math.round(readyMs)} ms`,
    };
  } finally {
    env.dropDir(dir);
  }
}

/** First start (the directory snapshot) with `users` users and `dispositions` dispositions. */
export async function directorySize(env: Env, users: number, dispositions: number): Promise<Row> {
  const rx = await env.receiver('c');
  await env.setWebhooks(() => [`${rx.url}/hook`]);
  for (let from = 200; from < users; from += 5_000) {
    const ids = Array.from({ length: Math.min(5_000, users - from) }, (_, i) => from + i);
    const values = ids.map((i) => `('user${i}','${100000 + i}','User ${i}')`);
    await env.admin.query(`INSERT INTO ccdata.users (username, phone, name) VALUES ${values.join(',')}`);
  }
  const ids = Array.from({ length: dispositions - 3 }, (_, i) => i + 4);
  const values = ids.map((i) => `(${i},${i % 3},'Value ${i}')`);
  await env.admin.query(`INSERT INTO ccdata.dispositions (id, parentId, value) VALUES ${values.join(',')}`);
  const dir = env.stateDir();
  try {
    const t0 = performance.now();
    const bridge = await startBridge(env.db, dir);
    const sampler = rssSampler(bridge.pid);
    await waitReady(bridge.port);
    const readyMs = performance.now() - t0;
    const cpu = cpuSeconds(bridge.pid);
    const peakMb = Math.max(sampler.peakMb(), rssMb(bridge.pid, 'VmHWM'));
    sampler.stop();
    const settled = await settle(bridge.pid);
    await bridge.stop();
    return {
      scenario: `directory ${users} users, ${dispositions} dispositions: first start`,
      events: 0,
      deliveries: 0,
      eventsPerS: NaN,
      deliveriesPerS: NaN,
      ceiling: NaN,
      cpuPer10k: NaN,
      peakMb,
      ...settled,
      paced: true,
      note: `snapshot to ready ${Math.round(readyMs)} ms, CPU ${cpu.toFixed(1)} s`,
    };
  } finally {
    await env.admin.query(`DELETE FROM ccdata.users WHERE username LIKE 'user%'`);
    await env.admin.query('DELETE FROM ccdata.dispositions WHERE id > 3');
    env.dropDir(dir);
  }
}

/** The held-URL backlog: `n` events enqueued while the receiver answers 503, then drained. */
export async function backlog(env: Env, n: number): Promise<Row> {
  const rx = await env.receiver('c');
  await env.setWebhooks(() => [`${rx.url}/hook`]);
  const before = await env.ceiling('c', Math.min(100_000, n));
  const dir = env.stateDir();
  try {
    await rx.ctl('down');
    const bridge = await startBridge(env.db, dir);
    await waitReady(bridge.port);
    const enq = rssSampler(bridge.pid);
    const t0 = performance.now();
    const events = await writeBacklog(env.admin, n);
    const metricsUrl = `http://127.0.0.1:${bridge.port}/metrics`;
    for (;;) {
      const m = /^ucw_outbox_pending (\S+)$/m.exec(await (await fetch(metricsUrl)).text());
      if (m && Number(m[1]) >= events) break;
      await sleep(200);
    }
    const enqPerS = events / ((performance.now() - t0) / 1000);
    const enqMb = enq.peakMb();
    enq.stop();
    const outboxMb = storeBytes(dir) / 1024 / 1024;
    const cpu0 = cpuSeconds(bridge.pid);
    const drain = rssSampler(bridge.pid);
    const machine0 = machineCpu();
    const upAt = Date.now();
    await rx.ctl('up');
    await waitReceived(rx, events, 1_800_000);
    const machine = machineCpuSince(machine0);
    const { firstAt, lastAt } = await rx.stats();
    const drainPerS = events / (Math.max(1, lastAt - firstAt) / 1000);
    const drainMb = drain.peakMb();
    drain.stop();
    const cpu = cpuSeconds(bridge.pid) - cpu0;
    const settled = await settle(bridge.pid);
    await bridge.stop();
    const against = measuredAgainst(before, await env.ceiling('c', Math.min(100_000, n)), machine, events);
    return {
      scenario: `backlog ${events}, receiver down then up (drain)`,
      events,
      deliveries: events,
      eventsPerS: drainPerS,
      deliveriesPerS: drainPerS,
      ...against.fields,
      cpuPer10k: (cpu / events) * 10_000,
      peakMb: Math.max(enqMb, drainMb),
      ...settled,
      note:
        `${against.note}; ` +
        `enqueue ${Math.round(enqPerS)}/s at ${enqMb.toFixed(0)} MB, drain peak ${drainMb.toFixed(0)} MB, ` +
        `outbox ${outboxMb.toFixed(0)} MB, first arrival ${firstAt - upAt} ms after up`,
    };
  } finally {
    await rx.ctl('up');
    env.dropDir(dir);
  }
}
