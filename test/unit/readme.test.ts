// The README is part of the product: every option and every error code must be documented there.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS } from '../../src/config/config.js';
import { envName, flagName } from '../../src/config/option-names.js';
import { ERROR_CODES } from '../../src/errors.js';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

void test('README documents every option with its flag and environment variable', () => {
  for (const o of OPTIONS) {
    assert.ok(readme.includes(`\`--${flagName(o.key)}\``), `--${flagName(o.key)} missing from README`);
    assert.ok(readme.includes(`\`${envName(o.key)}\``), `${envName(o.key)} missing from README`);
  }
});

void test('README lists every error code', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.ok(readme.includes(`\`${code}\``), `${code} missing from README`);
});
