// The memory flags of the command (first line of src/cli.ts, kept by tsc in dist/cli.js) and of the
// container image's CMD must stay the same: docs/operations.md and bench/RESULTS.md quote what they give.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const root = new URL('../../', import.meta.url);

void describe('node flags', () => {
  void it('the shebang of src/cli.ts and the Dockerfile pass the same V8 flags and malloc settings', () => {
    const shebang = readFileSync(new URL('src/cli.ts', root), 'utf8').split('\n', 1)[0]!;
    const m = /^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 node (.+)$/.exec(shebang);
    assert.ok(m, `unexpected first line of src/cli.ts: ${shebang}`);
    const flags = m[1]!.split(' ');
    assert.ok(
      ['--max-semi-space-size=4', '--heap-growing-percent=25', '--v8-pool-size=1', '--single-threaded-gc'].every((f) =>
        flags.includes(f),
      ),
      flags.join(' '),
    );
    const dockerfile = readFileSync(new URL('docker/Dockerfile', root), 'utf8');
    assert.match(dockerfile, /^ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768$/m);
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    assert.ok(cmd, 'no exec-form CMD in docker/Dockerfile');
    assert.deepEqual(JSON.parse(cmd[1]!) as string[], ['node', ...flags, 'dist/cli.js', 'run']);
  });
});
