// The CLI refuses bad usage before it starts anything: a misspelt option of `run` is an error (exit 2),
// not a bridge that runs with the option silently ignored. Run as an operator runs it (the built CLI).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/bridge-process.js';

/** Long enough for a refusal; a bridge that started instead keeps retrying port 1 until this ends. */
const REFUSAL_MS = 15_000;

void describe('CLI usage errors', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-cli-usage-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('run with a misspelt option exits 2 and starts nothing', async () => {
    const stateDir = join(dir, 'state');
    const r = await runCli(
      ['run', '--mysql-url', 'mysql://u@127.0.0.1:1/x', '--state-dir', stateDir, '--concurency-per-url', '8'],
      {},
      REFUSAL_MS,
    );
    assert.equal(r.code, 2, r.stderr);
    // yargs names the option as typed and in its camelCase form.
    assert.equal(r.stderr, 'Unknown arguments: concurency-per-url, concurencyPerUrl\n\nRun with --help for usage.\n');
    assert.equal(r.stdout, '', 'no bridge log: nothing started');
    assert.equal(existsSync(stateDir), false, 'the state dir was never created');
  });
});
