// Secrets given as files (Docker/Kubernetes secrets) instead of argv, where every local user sees
// them. Invariant: a file that users other than its owner can read is refused, and no error message
// or detail ever carries a file's content.

import { readFileSync, statSync } from 'node:fs';
import { BridgeError, type WarningCode } from '../errors.js';
import { envName, flagName } from './option-names.js';

/** Each secret option and the option naming its file; a signing-secret file holds one secret a line. */
const SECRET_FILES = [
  { value: 'mysqlUrl', file: 'mysqlUrlFile', lines: false },
  { value: 'signingSecret', file: 'signingSecretFile', lines: true },
  { value: 'adminToken', file: 'adminTokenFile', lines: false },
] as const;

const HINT =
  'Make the file readable by its owner only: `chmod 600 FILE` (or 400); in Kubernetes ' +
  'mount the secret with `defaultMode: 0400` (with a pod fsGroup it becomes 0440, ' +
  'root-owned: accepted, with a warning), in Docker Compose give the secret `mode: 0400`.';

function secretFileError(path: string, why: string): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_SECRET_FILE', `secret file ${path} ${why}`, { hint: HINT, details: { path } });
}

/** A secret file the bridge reads through its group only (Kubernetes fsGroup), accepted with a warning. */
export interface SecretFileWarning {
  readonly code: Extract<WarningCode, 'UCW_WARN_SECRET_FILE_GROUP'>;
  readonly path: string;
  readonly mode: string;
  readonly group: number;
}

/**
 * The text of a secret file, refused when others may read it, or its group while the bridge's user
 * owns it. Group read is accepted (and reported) when the file belongs to another user and a group
 * of the bridge's: that is how Kubernetes mounts a secret with a pod fsGroup (root-owned, 0440).
 */
export function readSecretFile(path: string, onWarning?: (w: SecretFileWarning) => void): string {
  let text: string;
  try {
    const st = statSync(path);
    const mode = st.mode & 0o777;
    const shown = `0${mode.toString(8)}`;
    if ((mode & 0o004) !== 0) throw secretFileError(path, `is readable by other users (mode ${shown})`);
    if ((mode & 0o040) !== 0) {
      const throughGroupOnly = st.uid !== process.getuid?.() && (process.getgroups?.() ?? []).includes(st.gid);
      if (!throughGroupOnly) throw secretFileError(path, `is readable by its group (mode ${shown})`);
      onWarning?.({ code: 'UCW_WARN_SECRET_FILE_GROUP', path, mode: shown, group: st.gid });
    }
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
export function resolveSecretFiles(merged: Record<string, unknown>, onWarning?: (w: SecretFileWarning) => void): void {
  for (const s of SECRET_FILES) {
    const path = merged[s.file];
    if (typeof path !== 'string' || path === '') continue;
    const given = merged[s.value];
    if (given !== undefined && !(Array.isArray(given) && given.length === 0)) {
      throw new BridgeError(
        'UCW_ERR_CONFIG_INVALID',
        `both --${flagName(s.value)} (${envName(s.value)}) and --${flagName(s.file)} (${envName(s.file)}) are given`,
        {
          hint:
            `Give the secret once: keep --${flagName(s.file)} and drop ` +
            `--${flagName(s.value)} (argv is visible to every local user).`,
        },
      );
    }
    const lines = readSecretFile(path, onWarning)
      .split('\n')
      .map((l) => l.replace(/\r$/, ''));
    const secrets = s.lines
      ? lines.filter((l) => l !== '')
      : [lines.join('\n').replace(/\n+$/, '')].filter((l) => l !== '');
    if (secrets.length === 0) throw secretFileError(path, 'holds no secret');
    merged[s.value] = s.lines ? secrets : secrets[0];
  }
}
