import js from '@eslint/js';
import eslintConfigPrettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  // Turns off the stylistic rules Prettier owns; max-len comes after it so it stays on.
  eslintConfigPrettier,
  {
    // The shebang of src/cli.ts is one line by definition (the kernel reads only the first line).
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true, ignorePattern: '^#!' }] },
  },
  // TEMPORARY: being split on another branch; the lead removes this entry after merging
  {
    files: [
      'src/app.ts',
      'src/delivery/dispatcher.ts',
      'src/delivery/drop-events.ts',
      'src/pipeline/outbox-budget.ts',
      'src/pipeline/unregistered.ts',
      'src/pipeline/processor.ts',
      'src/observe/metrics.ts',
      'test/unit/dispatcher.test.ts',
      'test/unit/outbox-budget.test.ts',
      'test/unit/outbox-disk-budget.test.ts',
      'test/unit/processor.test.ts',
      'test/unit/processor-mirror.test.ts',
      'test/integration/held-urls.test.ts',
      'test/integration/outbox-limit.test.ts',
    ],
    rules: { 'max-len': 'off' },
  },
);
