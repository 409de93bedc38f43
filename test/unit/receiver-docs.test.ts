// docs/receivers.md shows the Node receiver that test/integration/receiver-libraries.test.ts runs: the
// snippet on the page must be that file, byte for byte, so what readers copy is what was tested.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

void test('the Node snippet in docs/receivers.md is docs/examples/receiver.mjs', () => {
  const page = readFileSync(join(ROOT, 'docs', 'receivers.md'), 'utf8');
  const file = readFileSync(join(ROOT, 'docs', 'examples', 'receiver.mjs'), 'utf8');
  const snippets = [...page.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.deepEqual(snippets, [file], 'copy docs/examples/receiver.mjs into the ```js block of docs/receivers.md');
});
