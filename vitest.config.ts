import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { findPostgresBin } from './scripts/postgres.js';

const exclude = ['**/node_modules/**', 'dist/**', 'data/**', 'portal/**'];

/**
 * Files the postgres project leaves to the sqlite one: they touch no database (workflow code
 * on fake activities, replay, the agent, the supervisor, pure functions), or they are about
 * PostgreSQL itself (test/postgres*, skip-locked, job-doorbell-pg and multinode start a
 * PostgreSQL of their own, and run in the sqlite project's run).
 */
const noDatabase = [
  'test/agent-main.test.ts',
  'test/agent-run-job.test.ts',
  'test/approval.workflow.test.ts',
  'test/dev-server.test.ts',
  'test/device-tokens.test.ts',
  'test/duration.test.ts',
  'test/job-doorbell.test.ts',
  'test/manual-task.workflow.test.ts',
  'test/replay.test.ts',
  'test/standard-service.workflow.test.ts',
  'test/supervisor.test.ts',
  'test/temporal-problems.test.ts',
  'test/temporal-profile.test.ts',
  'test/postgres.test.ts',
  'test/postgres-stack.e2e.test.ts',
  'test/skip-locked.test.ts',
  'test/job-doorbell-pg.test.ts',
  'test/multinode.e2e.test.ts',
];

/**
 * The suite again on PostgreSQL: a throwaway cluster for the run, a database of its own per
 * file and per stack. Left out, with a note, on a machine without PostgreSQL's binaries; CI
 * installs them, and there a missing PostgreSQL fails the run instead of shrinking it.
 */
function postgresProject(): TestProjectInlineConfiguration[] {
  if (!findPostgresBin() && !process.env.CI) {
    process.stderr.write(
      'npm test: no PostgreSQL here (initdb, pg_ctl): running the suite on SQLite only; install PostgreSQL to run it on both\n',
    );
    return [];
  }
  return [
    {
      extends: true,
      test: {
        name: 'postgres',
        env: { REQFLOW_TEST_DIALECT: 'postgres' },
        globalSetup: ['test/global-setup.ts', 'test/postgres-global-setup.ts'],
        setupFiles: ['test/helpers/postgres-setup.ts'],
        exclude: [...exclude, ...noDatabase],
      },
    },
  ];
}

export default defineConfig({
  test: {
    // better-sqlite3 and the Temporal core bridge are native modules that misbehave in worker threads.
    pool: 'forks',
    // The default output, then one plain `tests: N passed, N failed, N skipped` line to end the run.
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    include: ['test/**/*.test.ts', '**/*.test.ts'],
    exclude,
    // Workflow tests run real workers against the dev server; timers and polls add seconds.
    testTimeout: 60_000,
    // Per-file hooks bundle workflows (webpack) and start test environments.
    hookTimeout: 180_000,
    fileParallelism: true,
    // Every file runs its own worker against the one dev server; more forks starve it on small CI machines.
    maxWorkers: 2,
    // The whole suite runs on either database: SQLite (the embedded default) and PostgreSQL
    // (a throwaway cluster, a database of its own per file and per stack). Each project has
    // its own Temporal dev server (test/global-setup.ts), so their workflows never meet.
    projects: [
      { extends: true, test: { name: 'sqlite', globalSetup: ['test/global-setup.ts'] } },
      ...postgresProject(),
    ],
  },
});
