// @ts-check
import eslint from '@eslint/js';
import eslintConfigPrettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'eslint.config.mjs', 'jest.config.js', 'scripts/token.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  eslintConfigPrettier,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      sourceType: 'commonjs',
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // Off by default; turned on per folder below (the library boundary, the library's index).
      'no-restricted-imports': 'off',
    },
  },
  {
    // Tests read HTTP response bodies as untyped JSON (test/support's Sent.body): asserting on them
    // is the point, so the unsafe-any rules stay off there and only there.
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // The idempotency library is liftable: nothing in it may import the app (one rule per folder depth).
  {
    files: ['src/idempotency/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: 'src/idempotency must not import the app' }] }],
    },
  },
  {
    files: ['src/idempotency/storage/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../../*'], message: 'src/idempotency must not import the app' }] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/idempotency/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/idempotency/*'], message: 'import the idempotency module through its index only' }] },
      ],
    },
  },
);
