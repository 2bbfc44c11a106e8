// Type-aware lint. The layering rule keeps packages/raft and packages/ivf free of I/O:
// the replication core decides, the daemon performs (see packages/raft/DESIGN.md).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.bench/**', '**/dist/**', 'test-artifacts/**', 'packages/server/src/dashboard/static/**', '.stryker-tmp/**', 'reports/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['packages/raft/src/**/*.ts', 'packages/ivf/src/**/*.ts'],
    ignores: ['packages/ivf/src/sqlite-store.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          // node:zlib is allowed for its crc32 (a pure function, native: raft's entry checksums).
          { group: ['node:*', '!node:zlib', 'fs', 'net', 'http', 'child_process'], message: 'core packages do no I/O' },
          { group: ['better-sqlite3', 'hono', '@hono/*'], message: 'core packages do no I/O' },
        ],
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
