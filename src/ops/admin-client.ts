// How a CLI command reaches a running bridge: the state dir's lock says whether one runs, and the
// files it published (admin-endpoint.ts) say where its admin API is and which token to send. One
// library per edge: requests go through undici, as deliveries do.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as Undici from 'undici';
import { BridgeError, isBridgeError } from '../errors.js';
import { OUTBOX_FILE, StateStore } from '../outbox/state-store.js';
import { readAdminFiles, type AdminEndpoint } from './admin-endpoint.js';

const TIMEOUT_MS = 10_000;

export interface AdminClient {
  /** The JSON answer of a 2xx; anything else throws UCW_ERR_ADMIN_REFUSED / UCW_ERR_ADMIN_UNREACHABLE. */
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

/** The address to dial: a bridge listening on every address is reached over loopback. */
function dialHost(endpoint: AdminEndpoint): string {
  if (endpoint.host === '0.0.0.0') return '127.0.0.1';
  if (endpoint.host === '::' || endpoint.host === '[::]') return '[::1]';
  return endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host;
}

/** True when a process with this pid exists (EPERM: it does, under another user). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function adminClientFor(stateDir: string): AdminClient {
  const found = readAdminFiles(stateDir);
  // admin.json left by a bridge that died while another process (e.g. an offline command) holds the
  // lock names a port some other program may listen on now: never send it the token.
  if (found && !isAlive(found.endpoint.pid)) {
    throw new BridgeError(
      'UCW_ERR_ADMIN_UNREACHABLE',
      `another process holds ${stateDir}: the bridge that wrote admin.json (pid ${found.endpoint.pid}) has exited`,
      {
        hint:
          'Another process holds the state directory (e.g. an offline command such as retry or replay); ' +
          'wait until it has finished, then run the command again.',
        details: { stateDir, pid: found.endpoint.pid },
      },
    );
  }
  if (!found) {
    throw new BridgeError(
      'UCW_ERR_ADMIN_UNREACHABLE',
      `a bridge holds ${stateDir} but has not published its admin API`,
      {
        hint: 'Wait until it has started (its log says "bridge started"), then run the command again.',
        details: { stateDir },
      },
    );
  }
  const base = `http://${dialHost(found.endpoint)}:${found.endpoint.port}`;
  return {
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      // undici loads on first use: the CLI imports this module for every command, `run` too, which never calls it.
      const { request }: typeof Undici = await import('undici');
      let res;
      try {
        res = await request(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${found.token}`,
            // The admin API refuses a POST of any other type (CSRF), even an empty one.
            ...(method === 'POST' || body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        });
      } catch (err) {
        throw new BridgeError('UCW_ERR_ADMIN_UNREACHABLE', `the bridge's admin API at ${base} does not answer`, {
          hint: 'Check the bridge is running and healthy, then run the command again.',
          cause: err,
          details: { pid: found.endpoint.pid, port: found.endpoint.port },
        });
      }
      const text = await res.body.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) return json as T;
      const why = (json as { message?: string; error?: string } | undefined) ?? {};
      throw new BridgeError(
        'UCW_ERR_ADMIN_REFUSED',
        `the bridge refused ${method} ${path}: ${res.statusCode} ${why.message ?? why.error ?? ''}`.trim(),
        {
          hint: 'Fix what the message names and run the command again; nothing was changed.',
          details: { status: res.statusCode },
        },
      );
    },
  };
}

/**
 * Runs `offline` on the state store when no bridge runs (the command takes the lock), or `online`
 * against the running bridge's admin API when one holds the lock.
 */
export async function withBridgeOrStore<T>(
  stateDir: string,
  work: { offline: (store: StateStore) => T | Promise<T>; online: (client: AdminClient) => Promise<T> },
): Promise<T> {
  // A mistyped --state-dir must not become a new, empty store (a bridge holding the dir has one).
  const storePath = join(stateDir, OUTBOX_FILE);
  if (!existsSync(storePath)) {
    throw new BridgeError('UCW_ERR_STATE_MISSING', `${stateDir} holds no state store (${OUTBOX_FILE})`, {
      hint:
        'Check --state-dir: it must name the state directory of a bridge that has run at least once. ' +
        'Only `run` creates a new one.',
      details: { stateDir },
    });
  }
  let store: StateStore;
  try {
    store = new StateStore({ stateDir, synchronous: 'full' });
  } catch (err) {
    if (isBridgeError(err) && err.code === 'UCW_ERR_STATE_LOCKED') return work.online(adminClientFor(stateDir));
    throw err;
  }
  try {
    return await work.offline(store);
  } finally {
    store.close();
  }
}
