import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // better-sqlite3 and the Temporal core bridge are native modules that misbehave in worker threads.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // The default output, then one plain `tests: N passed, N failed, N skipped` line to end the run.
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    include: ['test/**/*.test.ts', '**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**', 'data/**', 'portal/**'],
    // Workflow tests run real workers against the dev server; timers and polls add seconds.
    testTimeout: 60_000,
    // Per-file hooks bundle workflows (webpack) and start test environments.
    hookTimeout: 180_000,
    fileParallelism: true,
    // Every file runs its own worker against the one dev server; more forks starve it on small CI machines.
    maxWorkers: 2,
  },
});
