// Writes the generated manual pages: `npm run docs:config` (docs/configuration.md) and
// `npm run docs:errors` (docs/errors.md). The unit test test/unit/docs.test.ts fails when they are stale.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigurationDoc } from '../src/config/config-doc.js';
import { renderErrorsDoc } from '../src/errors-doc.js';

const root = join(import.meta.dirname, '..');
const pages: Record<string, () => string> = {
  config: () => (writeFileSync(join(root, 'docs/configuration.md'), renderConfigurationDoc()), 'docs/configuration.md'),
  errors: () => (writeFileSync(join(root, 'docs/errors.md'), renderErrorsDoc()), 'docs/errors.md'),
};
const which = process.argv.slice(2);
for (const name of which.length > 0 ? which : Object.keys(pages)) {
  const write = pages[name];
  if (!write) throw new Error(`unknown page ${name}; one of ${Object.keys(pages).join(', ')}`);
  console.log(`wrote ${write()}`);
}
