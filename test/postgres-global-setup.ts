/**
 * The postgres project's cluster: a throwaway PostgreSQL (scripts/postgres.ts) for the run,
 * and one migrated template database every test database is copied from.
 */
import type { TestProject } from 'vitest/node';
import { closeDatabase, openPostgresDatabase } from '../db/client.js';
import { startPostgres } from '../scripts/postgres.js';

const TEMPLATE = 'reqflow_template';

export default async function setup(project: TestProject): Promise<() => void> {
  const server = await startPostgres({ log: (line) => process.stderr.write(`[postgres-setup] ${line}\n`) });
  try {
    const db = await openPostgresDatabase(await server.createDatabase(TEMPLATE));
    await closeDatabase(db);
  } catch (err) {
    server.stop();
    throw err;
  }
  project.provide('postgresUrl', server.url);
  project.provide('postgresTemplate', TEMPLATE);
  return () => server.stop();
}
