// Secrets given as files (Docker/Kubernetes secrets) instead of argv, where every local user sees
// them. Invariant: a file that users other than its owner can read is refused, and no error message
// or detail ever carries a file's content.

import { readFileSync, statSync } from 'node:fs';
import { BridgeError } from '../errors.js';
import { envName, flagName } from './option-names.js';

/** Each secret option and the option naming its file; a signing-secret file holds one secret a line. */
const SECRET_FILES = [
  { value: 'mysqlUrl', file: 'mysqlUrlFile', lines: false },
  { value: 'signingSecret', file: 'signingSecretFile', lines: true },
] as const;

const HINT =
  'Make the file readable by its owner only: `chmod 600 FILE` (or 400); in Kubernetes mount the secret with `defaultMode: 0400`, in Docker Compose give the secret `mode: 0400`.';

function secretFileError(path: string, why: string): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_SECRET_FILE', `secret file ${path} ${why}`, { hint: HINT, details: { path } });
}

/** The text of a secret file, refused when group or others may read it. */
export function readSecretFile(path: string): string {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o044) !== 0) throw secretFileError(path, `is readable by other users (mode 0${mode.toString(8)})`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    throw secretFileError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return text;
}

/**
 * Replaces each `*File` option of the merged configuration by the secret it names. Giving a secret
 * and its file together is refused: which one wins would be a guess.
 */
export function resolveSecretFiles(merged: Record<string, unknown>): void {
  for (const s of SECRET_FILES) {
    const path = merged[s.file];
    if (typeof path !== 'string' || path === '') continue;
    const given = merged[s.value];
    if (given !== undefined && !(Array.isArray(given) && given.length === 0)) {
      throw new BridgeError(
        'UCW_ERR_CONFIG_INVALID',
        `both --${flagName(s.value)} (${envName(s.value)}) and --${flagName(s.file)} (${envName(s.file)}) are given`,
        { hint: `Give the secret once: keep --${flagName(s.file)} and drop --${flagName(s.value)} (argv is visible to every local user).` },
      );
    }
    const lines = readSecretFile(path)
      .split('\n')
      .map((l) => l.replace(/\r$/, ''));
    const secrets = s.lines ? lines.filter((l) => l !== '') : [lines.join('\n').replace(/\n+$/, '')].filter((l) => l !== '');
    if (secrets.length === 0) throw secretFileError(path, 'holds no secret');
    merged[s.value] = s.lines ? secrets : secrets[0];
  }
}
