// `rules print-default` and `rules check`, run as an operator runs them (the built CLI, no database):
// the defaults print as JSON and pass the check (exit 0); a file with problems lists every one with
// its path and exits 2; a file that cannot be read exits 2 with UCW_ERR_RULES_READ.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/bridge-process.js';

void describe('rules print-default and rules check (CLI)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-rules-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('print-default exits 0 with JSON that rules check accepts (exit 0)', async () => {
    const printed = await runCli(['rules', 'print-default']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stderr, '');
    const rules = JSON.parse(printed.stdout) as { rules: unknown[]; directories: Record<string, unknown> };
    assert.ok(rules.rules.length > 0);
    const file = join(dir, 'defaults.json');
    writeFileSync(file, printed.stdout);
    const checked = await runCli(['rules', 'check', file]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(
      checked.stdout,
      `ok: ${rules.rules.length} rules, ${Object.keys(rules.directories).length} directories\n`,
    );
    // Without a file the defaults themselves are checked.
    const defaults = await runCli(['rules', 'check']);
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.equal(defaults.stdout, checked.stdout);
  });

  void test('a file with two problems: each listed with its path, exit 2', async () => {
    const rules = JSON.parse((await runCli(['rules', 'print-default'])).stdout) as {
      rules: Array<Record<string, unknown>>;
    };
    rules.rules[0]!.event = 'AgentLogg';
    rules.rules[1]!.tabel = 'typo';
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(rules));
    const r = await runCli(['rules', 'check', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /UCW_ERR_RULES_INVALID/);
    assert.match(r.stderr, /^ {2}- rules\[0\]\.event: /m);
    assert.match(r.stderr, /^ {2}- rules\[1\]: Unrecognized key: "tabel"$/m);
  });

  void test('a missing file: UCW_ERR_RULES_READ, exit 2', async () => {
    const r = await runCli(['rules', 'check', join(dir, 'absent.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /UCW_ERR_RULES_READ/);
  });
});
