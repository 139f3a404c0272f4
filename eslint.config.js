// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'db/migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // Activities are async by contract (Temporal awaits them) even when their body is synchronous SQLite.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Queries run on SQLite and PostgreSQL alike: awaited, never better-sqlite3's synchronous
    // terminals, which PostgreSQL's drizzle does not have (db/client.ts, db/transaction.ts).
    // Tests too: the suite runs on both databases.
    files: ['**/*.ts'],
    ignores: ['workflows/**', 'portal/**', 'worker.ts', 'bench/bare/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[arguments.length=0][callee.type='MemberExpression'][callee.property.name=/^(all|get|run)$/]",
          message:
            'Await the query instead of .all()/.get()/.run(): they exist on SQLite only. Raw SQL: execute() or selectRows() from db/client.ts.',
        },
      ],
    },
  },
  {
    // The portal runs in the browser.
    files: ['portal/src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
  },
  {
    // import-x's resolver cannot load vite's package entry ("node with invalid interface");
    // the two files that import vite are leaves of the module graph, in no cycle.
    files: ['portal/vite.config.ts', 'scripts/build-portal.ts'],
    rules: { 'import-x/no-cycle': 'off' },
  },
  {
    // Activities are closures over their deps, never `this`-bound; tests pass them around detached.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node builtins,
    // no db or HTTP code. Activities are reached only through `import type`.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'child_process', 'os'],
              message: 'Workflows must stay deterministic: no Node builtins.',
            },
            {
              group: [
                '../db/*',
                '../api/*',
                'drizzle-orm*',
                'better-sqlite3',
                'fastify*',
                '@temporalio/client',
                '@temporalio/worker',
              ],
              message: 'Workflows may not reach the database, the API or the worker.',
            },
            {
              group: ['../activities/*'],
              allowTypeImports: true,
              message: 'Import activities with `import type` only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
