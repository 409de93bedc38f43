// The published package holds the bridge only: `npm pack --dry-run` (what `npm publish` would ship)
// must list the CLI and no demo, database launcher, test or bench file. Needs `npm run build` first.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface PackEntry {
  files: Array<{ path: string }>;
}

/** Path patterns that belong to development only, never to the shipped bridge. */
const NOT_SHIPPED = [
  /(^|\/)demo\//,
  /(^|\/)devtools\//,
  /mariadb/i,
  /reference-schema/,
  /simulator/,
  /printer/,
  // The test receiver; docs/receivers.md and its example are the manual's and do ship, and
  // dist/config/receivers.js is the bridge's own per-receiver settings.
  /^(?!docs\/).*(^|\/)(compose-)?receiver\.[a-z]+(\.map)?$/,
  /^test\//,
  /\.test\./,
  /^bench\//,
  /(^|\/)tsconfig/,
];

void describe('npm pack', () => {
  void it('ships dist/cli.js and no demo, launcher, test or bench file', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [pack] = JSON.parse(out) as PackEntry[];
    const paths = pack!.files.map((f) => f.path).sort();
    assert.ok(
      paths.includes('dist/cli.js'),
      `dist/cli.js is not in the package (run npm run build first): ${paths.join(', ')}`,
    );
    assert.deepEqual(
      paths.filter((p) => NOT_SHIPPED.some((re) => re.test(p))),
      [],
    );
  });
});
