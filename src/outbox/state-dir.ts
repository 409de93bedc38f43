// File modes of the state directory: it holds webhook bodies (personal data) and the checkpoint.
// Invariant: the directory is 0700 and every file the bridge keeps in it 0600, whatever the umask;
// looser modes found on an existing directory or file are tightened and reported.

import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export interface ModeChange {
  readonly path: string;
  readonly from: string;
  readonly to: string;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

/** Creates the directory 0700 (parents too) when missing; an existing one is left as it is. */
export function createStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
}

/** Tightens the directory to 0700 (only under its lock: it belongs to the lock's holder); returns the change. */
export function tightenStateDir(dir: string): ModeChange[] {
  return tighten(dir, DIR_MODE);
}

/**
 * Sets a file to 0600 when it is looser (by path: opening and closing a file this process holds
 * SQLite locks on would drop those locks). A missing file is skipped.
 */
export function restrictFile(path: string): ModeChange[] {
  return tighten(path, FILE_MODE);
}

/**
 * Creates `path` empty and 0600 when it does not exist, so that SQLite (which creates files with the
 * umask's mode) opens a private file and a new store has nothing to tighten.
 */
export function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function tighten(path: string, mode: number): ModeChange[] {
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  if ((current & ~mode) === 0) return [];
  chmodSync(path, mode);
  return [{ path, from: octal(current), to: octal(mode) }];
}
