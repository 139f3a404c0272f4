/**
 * Databases of their own for tests on PostgreSQL, copied from the template the postgres
 * project's global setup migrated once (CREATE DATABASE … TEMPLATE copies files: tens of
 * milliseconds, where migrating each database would take a second). No import of db/ here:
 * the per-file setup uses this before DATABASE_URL is set, and db/schema.ts binds its
 * tables to a dialect when it first loads.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The postgres project's cluster (its default database, as superuser); '' in the sqlite project. */
    postgresUrl: string;
    /** The migrated database new test databases are copied from. */
    postgresTemplate: string;
  }
}

/** Whether this test file runs on PostgreSQL (the postgres project) or SQLite (the sqlite project). */
export const onPostgres = process.env.REQFLOW_TEST_DIALECT === 'postgres';

/** A new, migrated, empty PostgreSQL database for one test (or one stack), and its URL. */
export async function newPostgresDatabase(): Promise<string> {
  const admin = inject('postgresUrl');
  if (!admin) throw new Error('no PostgreSQL in this test run: the sqlite project has none');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`create database ${name} template ${inject('postgresTemplate')}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
