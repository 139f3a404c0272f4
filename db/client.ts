import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../runtime/config.js';
import * as schema from './schema.js';

export type DB = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** The handle inside `db.transaction(...)`, for writers that must commit together with their caller. */
export type Tx = Parameters<Parameters<DB['transaction']>[0]>[0];

const migrationsFolder = join(repoRoot, 'db', 'migrations');

/**
 * Opens the app database. The worker, the API and the stack script each open
 * the same file, so WAL (readers never block the writer) and a busy timeout
 * (writers queue instead of failing with SQLITE_BUSY) are required, not tuning.
 */
export function openDatabase(file: string, options: { migrate?: boolean } = {}): DB {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  const db = drizzle(sqlite, { schema });
  if (options.migrate ?? true) migrate(db, { migrationsFolder });
  return db;
}

/** A fresh, migrated in-memory database (tests). */
export function openMemoryDatabase(): DB {
  return openDatabase(':memory:');
}
