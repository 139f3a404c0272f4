import Database from 'better-sqlite3';
import type { SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { RunResult } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../runtime/config.js';
import * as schema from './schema.js';

/**
 * The application database. Typed as drizzle's SQLite database, which the code is written
 * against; with `DATABASE_URL=postgres://…` the same queries run on drizzle's PostgreSQL
 * database (see `connectDatabase`). Code that must run on both awaits its queries instead
 * of calling better-sqlite3's synchronous `.all()`, `.get()` and `.run()`, and writes inside
 * `transaction()` (db/transaction.ts).
 */
export type DB = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** The handle inside `transaction(...)`, for writers that must commit together with their caller. */
export type Tx = BaseSQLiteDatabase<'sync', RunResult, typeof schema>;

export type Dialect = 'sqlite' | 'postgres';

const migrationsFolder = join(repoRoot, 'db', 'migrations');

/** Handles (databases and their transactions) that talk to PostgreSQL; everything else is SQLite. */
const postgresHandles = new WeakSet<object>();

export function databaseDialect(db: DB | Tx): Dialect {
  return postgresHandles.has(db) ? 'postgres' : 'sqlite';
}

/** Marks a handle (a PostgreSQL database or one of its transactions) as PostgreSQL. */
export function markPostgres(handle: object): void {
  postgresHandles.add(handle);
}

/** Runs a statement that drizzle's query builders do not express, on either database. */
export async function execute(db: DB | Tx, query: SQL): Promise<void> {
  if (databaseDialect(db) === 'postgres') {
    await (db as unknown as { execute(q: SQL): Promise<unknown> }).execute(query);
  } else {
    db.run(query);
  }
}

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

/** Closes either kind of database. */
export async function closeDatabase(db: DB): Promise<void> {
  if (databaseDialect(db) === 'postgres') {
    await (db.$client as unknown as { end(): Promise<void> }).end();
  } else {
    db.$client.close();
  }
}
