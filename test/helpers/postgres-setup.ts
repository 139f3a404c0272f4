/**
 * The postgres project's per-file setup: the file gets a database of its own in
 * DATABASE_URL before anything imports db/schema.ts, which binds the pg-core tables from it,
 * and code that reads its configuration from the environment connects there.
 */
import { afterAll } from 'vitest';
import { newPostgresDatabase } from './postgres-databases.js';

process.env.DATABASE_URL = await newPostgresDatabase();

afterAll(async () => {
  const { closeTestDatabases } = await import('./test-database.js');
  await closeTestDatabases();
});
