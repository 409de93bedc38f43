// The manual is part of the product. The generated pages (docs/configuration.md, docs/errors.md) must
// equal what their render functions give today, every code written in src/ must be in the code table,
// the README stays short enough to be read and names real options, and every relative link in it and
// in docs/ resolves.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { renderConfigurationDoc } from '../../src/config/config-doc.js';
import { OPTIONS } from '../../src/config/config.js';
import { envName, flagName } from '../../src/config/option-names.js';
import { CODES } from '../../src/errors.js';
import { renderErrorsDoc } from '../../src/errors-doc.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const README_MAX_BYTES = 15_000;

void describe('generated docs', () => {
  void test('docs/configuration.md is the render of the option schema', () => {
    const stale = 'docs/configuration.md is stale: run `npm run docs:config` and commit it';
    assert.ok(read('docs/configuration.md') === renderConfigurationDoc(), stale);
  });

  void test('docs/errors.md is the render of the code table', () => {
    const stale = 'docs/errors.md is stale: run `npm run docs:errors` and commit it';
    assert.ok(read('docs/errors.md') === renderErrorsDoc(), stale);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

void test('every UCW_ERR_* / UCW_WARN_* code written in src/ is in the code table of src/error-codes.ts', () => {
  const unknown: string[] = [];
  for (const file of sourceFiles('src')) {
    for (const m of read(file).matchAll(/\bUCW_(?:ERR|WARN)_[A-Z][A-Z0-9_]*[A-Z0-9]\b/g)) {
      if (!(m[0] in CODES)) unknown.push(`${file}: ${m[0]}`);
    }
  }
  assert.deepEqual(unknown, []);
});
void describe('README', () => {
  const readme = read('README.md');

  void test(`is at most ${README_MAX_BYTES} bytes`, () => {
    const bytes = Buffer.byteLength(readme, 'utf8');
    assert.ok(bytes <= README_MAX_BYTES, `README.md has ${bytes} bytes; move detail to docs/`);
  });

  void test('every relative link in README.md and docs/*.md names a file or folder that exists', () => {
    const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
    const pages = ['README.md', ...docs.map((f) => `docs/${f}`)];
    const broken: string[] = [];
    let links = 0;
    for (const page of pages) {
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/i.test(target)) continue;
        links += 1;
        if (!existsSync(join(ROOT, dirname(page), target))) broken.push(`${page}: ${m[1]}`);
      }
    }
    assert.deepEqual(broken, []);
    assert.ok(links >= 7, `README and docs link to each other (found ${links} relative links)`);
  });

  void test('the options table of README.md names real options with their environment variables', () => {
    const rows = [...readme.matchAll(/^\| `--([a-z-]+)` \| `(UCW_[A-Z_]+)` \|/gm)];
    assert.ok(rows.length >= 10, `README lists the options people set (found ${rows.length})`);
    for (const [, flag, env] of rows) {
      const def = OPTIONS.find((o) => flagName(o.key) === flag);
      assert.ok(def, `README names --${flag}, which is not an option`);
      assert.equal(env, envName(def.key), `README gives --${flag} the wrong environment variable`);
    }
  });
});
