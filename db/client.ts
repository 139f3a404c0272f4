import Database from 'better-sqlite3';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { RunResult } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { repoRoot } from '../runtime/config.js';
import * as pgSchema from './pg-schema.js';
import * as schema from './schema.js';
import { isPostgresUrl } from './url.js';

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
const pgMigrationsFolder = join(repoRoot, 'db', 'migrations-pg');

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
 * Rows of a raw SELECT on either database (for what the query builders do not express).
 * Cast counts to int in the SQL: PostgreSQL returns a bigint as a string.
 */
export async function selectRows<T>(db: DB | Tx, query: SQL): Promise<T[]> {
  if (databaseDialect(db) === 'postgres') {
    const result = await (db as unknown as { execute(q: SQL): Promise<{ rows: T[] }> }).execute(query);
    return result.rows;
  }
  return db.all<T>(query);
}

/**
 * A PostgreSQL SELECT with `FOR UPDATE SKIP LOCKED` (of `table` alone when the query joins
 * others): run inside a transaction, it locks the rows it returns until the commit and
 * leaves out rows another transaction holds. For several nodes taking work from one table;
 * SQLite has no such clause, so callers branch on `databaseDialect` first.
 */
export function forUpdateSkipLocked<Q>(query: Q, table?: object): Q {
  const pgQuery = query as unknown as { for(strength: 'update', config: object): Q };
  return pgQuery.for('update', table ? { of: table, skipLocked: true } : { skipLocked: true });
}

/** Where the app database is: `databaseUrl` (PostgreSQL) when set, else the SQLite file. */
export interface DatabaseConfig {
  databaseUrl?: string | undefined;
  databaseFile: string;
  /** Most connections of the PostgreSQL pool (pg's default, 10, when unset). */
  databasePoolSize?: number | undefined;
}

/**
 * Opens the app database the configuration names, migrated: PostgreSQL when `databaseUrl`
 * is set, the SQLite file otherwise. db/schema.ts bound its tables to one dialect when it
 * loaded (from DATABASE_URL in the environment); a configuration that names the other one
 * is refused here rather than left to fail at the first query.
 */
export async function connectDatabase(
  config: DatabaseConfig,
  options: { migrate?: boolean; onPoolError?: (err: Error) => void } = {},
): Promise<DB> {
  const wanted: Dialect = config.databaseUrl ? 'postgres' : 'sqlite';
  if (wanted !== schema.schemaDialect) {
    throw new Error(
      `the configuration names a ${wanted} database, but this process loaded the ${schema.schemaDialect} schema: ` +
        'set DATABASE_URL in the environment before the process starts, not afterwards',
    );
  }
  if (config.databaseUrl)
    return openPostgresDatabase(config.databaseUrl, { ...options, poolSize: config.databasePoolSize });
  return openDatabase(config.databaseFile, options);
}

// Any constant will do, as long as every reqflow process takes the same one.
const MIGRATION_LOCK = sql`select pg_advisory_lock(hashtext('reqflow:migrations'))`;
const MIGRATION_UNLOCK = sql`select pg_advisory_unlock(hashtext('reqflow:migrations'))`;

/**
 * A PostgreSQL database (a connection pool) with the pg-core tables, migrated from
 * db/migrations-pg. Several processes may start at once (N workers, N API nodes): each runs
 * the migrations holding one advisory lock on a connection of its own, so one applies them
 * and the others, once they get the lock, find nothing left to do.
 */
export async function openPostgresDatabase(
  url: string,
  options: { migrate?: boolean; onPoolError?: (err: Error) => void; poolSize?: number | undefined } = {},
): Promise<DB> {
  if (!isPostgresUrl(url)) throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
  const pool = new pg.Pool({ connectionString: url, ...(options.poolSize ? { max: options.poolSize } : {}) });
  // An idle pooled connection the server drops (restart, failover) emits 'error' on the pool;
  // unheard, that would end the process. The pool replaces the connection by itself.
  pool.on('error', options.onPoolError ?? ((err) => console.warn(`database pool: ${err.message}`)));
  try {
    if (options.migrate ?? true) {
      const client = await pool.connect();
      try {
        const session = drizzlePg(client);
        await session.execute(MIGRATION_LOCK);
        try {
          await migratePg(session, { migrationsFolder: pgMigrationsFolder });
        } finally {
          await session.execute(MIGRATION_UNLOCK);
        }
      } finally {
        client.release();
      }
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  // Typed as the SQLite database the code is written against; the queries build PostgreSQL
  // SQL because db/schema.ts bound the pg-core tables.
  const db = drizzlePg(pool, { schema: pgSchema }) as unknown as DB;
  markPostgres(db);
  return db;
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

/**
 * A query of the hot read paths (every authenticated request reads its caller, most read one
 * request), built once per database and then run with its placeholders' values. Drizzle
 * builds a query's SQL anew each time it runs, which cost more than SQLite's own work on
 * an indexed row; a prepared query skips that (and on SQLite, better-sqlite3 keeps the
 * compiled statement). On PostgreSQL it runs as a parameterised query on the pool.
 */
export function preparedQuery<Q extends { execute(values: Record<string, unknown>): unknown }>(
  build: (db: DB) => Q,
): (db: DB, values: Record<string, unknown>) => Promise<Awaited<ReturnType<Q['execute']>>> {
  const byDatabase = new WeakMap<DB, Q>();
  return (db, values) => {
    let query = byDatabase.get(db);
    if (!query) {
      query = build(db);
      byDatabase.set(db, query);
    }
    // Drizzle's SQLite result is a thenable, its PostgreSQL one a promise: either resolves.
    return Promise.resolve(query.execute(values)) as Promise<Awaited<ReturnType<Q['execute']>>>;
  };
}
