import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { closeDatabase, openDatabase, type DB } from '../../db/client.js';
import { seed } from '../../db/seed.js';
import { onPostgres, openTestDatabase } from './test-database.js';

/**
 * A migrated, seeded database of its own for the test file that calls this (at its top
 * level), removed afterwards: a SQLite file in the sqlite project (a file, not memory, so
 * writers meet WAL and the busy timeout as in production), a PostgreSQL database of its own
 * in the postgres project. Read `.db` inside tests: it is opened in beforeAll.
 */
export function seededDatabaseFile(prefix: string): { readonly db: DB } {
  let dir: string | undefined;
  let db: DB | undefined;
  beforeAll(async () => {
    if (onPostgres) {
      db = await openTestDatabase();
    } else {
      dir = mkdtempSync(join(tmpdir(), `reqflow-${prefix}-`));
      db = openDatabase(join(dir, 'app.db'));
    }
    await seed(db);
  });
  afterAll(async () => {
    if (db) await closeDatabase(db);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get db() {
      if (!db) throw new Error('the database opens in beforeAll');
      return db;
    },
  };
}
