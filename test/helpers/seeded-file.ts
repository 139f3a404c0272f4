import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openDatabase, type DB } from '../../db/client.js';
import { seed } from '../../db/seed.js';

/**
 * A migrated, seeded SQLite file of its own for the test file that calls this (at its top
 * level), removed afterwards. Read `.db` inside tests: it is opened in beforeAll.
 */
export function seededDatabaseFile(prefix: string): { readonly db: DB } {
  let dir: string | undefined;
  let db: DB | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `reqflow-${prefix}-`));
    db = openDatabase(join(dir, 'app.db'));
    await seed(db);
  });
  afterAll(() => {
    db?.$client.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get db() {
      if (!db) throw new Error('the database opens in beforeAll');
      return db;
    },
  };
}
