import { closeDatabase, openMemoryDatabase, openPostgresDatabase, type DB } from '../../db/client.js';
import { newPostgresDatabase, onPostgres } from './postgres-databases.js';

export { newPostgresDatabase, onPostgres };

const open = new Set<DB>();

/**
 * A fresh, migrated database for a test, on the dialect of the project the file runs in:
 * an in-memory SQLite database, or a PostgreSQL database of its own (closed after the file).
 */
export async function openTestDatabase(): Promise<DB> {
  if (!onPostgres) return openMemoryDatabase();
  // The template is migrated already; a second run would only find nothing to do.
  const db = await openPostgresDatabase(await newPostgresDatabase(), { migrate: false });
  open.add(db);
  return db;
}

/** Closes what openTestDatabase opened and the test did not close (the per-file setup calls it). */
export async function closeTestDatabases(): Promise<void> {
  const dbs = [...open];
  open.clear();
  await Promise.allSettled(dbs.map((db) => closeDatabase(db)));
}
