import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'drizzle-orm';
import { databaseDialect, execute, markPostgres, type DB, type Tx } from './client.js';

/*
 * One way to write atomically on both databases. Every write of an aggregate module goes
 * through `transaction(db, async (tx) => ...)`; a call made while the same database already
 * has a transaction open in this async context joins it, so a module may call another
 * module's writer from inside its own transaction and both commit or neither.
 *
 * SQLite (better-sqlite3) is synchronous and has one connection per process, and drizzle's
 * own transaction refuses an async callback. So the transaction here is `BEGIN IMMEDIATE` …
 * `COMMIT` on that connection, with an in-process queue: one transaction at a time per
 * database handle (IMMEDIATE takes SQLite's write lock at once, so other processes queue on
 * the busy timeout as before). A transaction body must await only database calls: anything
 * slow inside it holds every other writer of the process. The connection is shared, so a
 * single statement written outside `transaction()` while a body is between two awaits lands
 * in that body's transaction (and would be undone by its rollback): multi-statement writes
 * therefore always go through here; a second connection for transactions would close the gap.
 *
 * PostgreSQL runs drizzle's transaction on a pooled connection; rows are locked as the body
 * touches them, and `serialize(tx, name)` takes a lock for the cases where the rows to
 * lock are not yet there (the audit chain's next link).
 */

interface Open {
  db: DB;
  tx: Tx;
  /** Set at commit or rollback: work the body left running must not join a finished transaction. */
  ended: boolean;
}

const open = new AsyncLocalStorage<Open>();
const queues = new WeakMap<DB, Promise<unknown>>();

export async function transaction<T>(db: DB | Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const current = open.getStore();
  if (current && !current.ended && (current.db === db || current.tx === db)) return fn(current.tx);
  if (databaseDialect(db) === 'postgres') {
    // Typed as SQLite's synchronous transaction; on PostgreSQL drizzle awaits the callback.
    const pg = db as unknown as { transaction<R>(body: (tx: Tx) => Promise<R>): Promise<R> };
    return pg.transaction(async (tx) => {
      markPostgres(tx);
      const state: Open = { db: db as DB, tx, ended: false };
      try {
        return await open.run(state, () => fn(tx));
      } finally {
        state.ended = true;
      }
    });
  }
  return sqliteTransaction(db as DB, fn);
}

async function sqliteTransaction<T>(db: DB, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const before = queues.get(db) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  queues.set(
    db,
    before.then(() => mine),
  );
  await before;
  try {
    const client = db.$client;
    client.exec('BEGIN IMMEDIATE');
    const state: Open = { db, tx: db, ended: false };
    try {
      const result = await open.run(state, () => fn(db));
      client.exec('COMMIT');
      return result;
    } catch (err) {
      if (client.inTransaction) client.exec('ROLLBACK');
      throw err;
    } finally {
      state.ended = true;
    }
  } finally {
    release();
  }
}

/**
 * Inside a transaction: waits until no other transaction holds `name`, for writes whose
 * order matters but that lock no existing row (appending to a chain). SQLite's IMMEDIATE
 * transactions already run one at a time.
 */
export async function serialize(tx: Tx, name: string): Promise<void> {
  if (databaseDialect(tx) !== 'postgres') return;
  await execute(tx, sql`select pg_advisory_xact_lock(hashtext(${name}))`);
}
