// The files by which a running bridge tells the local CLI where its admin API is and how to use it:
// `admin.json` (host, port, pid) and `admin-token` (a random bearer token made at every start), both
// 0600 in the state dir. The CLI only trusts them after failing to take the state dir's lock, so a
// file left by a crashed bridge is never used against nothing.

import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_MODE } from '../outbox/state-dir.js';

export const ENDPOINT_FILE = 'admin.json';
export const TOKEN_FILE = 'admin-token';

export interface AdminEndpoint {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
}

function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: FILE_MODE });
  renameSync(tmp, path);
}

/** The token is generated before the server listens (it must accept it from the first request). */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

export function writeAdminFiles(stateDir: string, endpoint: AdminEndpoint, token: string): void {
  writePrivate(join(stateDir, TOKEN_FILE), `${token}\n`);
  writePrivate(join(stateDir, ENDPOINT_FILE), `${JSON.stringify(endpoint)}\n`);
}

export function removeAdminFiles(stateDir: string): void {
  rmSync(join(stateDir, ENDPOINT_FILE), { force: true });
  rmSync(join(stateDir, TOKEN_FILE), { force: true });
}

/** What the bridge published, or undefined when a file is missing or unreadable. */
export function readAdminFiles(stateDir: string): { endpoint: AdminEndpoint; token: string } | undefined {
  try {
    const endpoint = JSON.parse(readFileSync(join(stateDir, ENDPOINT_FILE), 'utf8')) as AdminEndpoint;
    const token = readFileSync(join(stateDir, TOKEN_FILE), 'utf8').trim();
    if (typeof endpoint.port !== 'number' || typeof endpoint.host !== 'string' || token === '') return undefined;
    return { endpoint, token };
  } catch {
    return undefined;
  }
}
