// The ceilings the bridge is compared with, measured in the same run: zongji alone reading the same
// backlog, and undici alone POSTing as many small bodies to the same receiver.

import ZongJi, { type AnyBinlogEvent } from '@vlasky/zongji';
import { Pool } from 'undici';
import type { PrivateMariaDb } from '../../demo/mariadb.js';

/** The bridge's default --concurrency-per-url: the undici ceiling uses as many connections. */
export const BRIDGE_CONNECTIONS = 32;

/** Ceiling (a): zongji alone reading `rows` watched rows from `from`, rows/s. */
export async function zongjiCeiling(
  db: PrivateMariaDb,
  from: { file: string; pos: number },
  rows: number,
): Promise<number> {
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
export async function undiciCeiling(url: string, n: number): Promise<number> {
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
export async function undiciDispatchCeiling(url: string, n: number): Promise<number> {
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
