import { sql } from 'drizzle-orm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeDatabase,
  execute,
  openMemoryDatabase,
  openPostgresDatabase,
  selectRows,
  type DB,
  type Tx,
} from '../db/client.js';
import { serialize, transaction } from '../db/transaction.js';
import { searchKnowledge } from '../knowledge/search.js';
import { repoRoot } from '../runtime/config.js';
import { findPostgresBin, startPostgres, type PostgresServer } from '../scripts/postgres.js';

// The PostgreSQL side of the database layer, on a real throwaway cluster (scripts/postgres.ts).
// CI installs PostgreSQL, so the skip below only happens on a machine without it.
const bin = findPostgresBin();
const title = bin
  ? 'PostgreSQL database layer'
  : 'PostgreSQL database layer (SKIPPED: no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH; install postgresql)';

let server: PostgresServer;
let db: DB;
let databases = 0;
const open: DB[] = [];

/** A fresh, empty database of the cluster. */
const freshUrl = () => server.createDatabase(`t${++databases}`);

async function connect(url: string): Promise<DB> {
  const handle = await openPostgresDatabase(url);
  open.push(handle);
  return handle;
}

const journal = JSON.parse(readFileSync(join(repoRoot, 'db/migrations-pg/meta/_journal.json'), 'utf8')) as {
  entries: unknown[];
};

async function appliedMigrations(handle: DB): Promise<number> {
  const [row] = await selectRows<{ n: number }>(
    handle,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return row!.n;
}

describe.skipIf(!bin)(title, () => {
  beforeAll(async () => {
    server = await startPostgres();
    db = await connect(await freshUrl());
  }, 120_000);

  afterAll(async () => {
    for (const handle of open) await closeDatabase(handle);
    server?.stop();
  });

  describe('migrations', () => {
    it('apply on an empty database, and a second time find nothing to do', async () => {
      const url = await freshUrl();
      const first = await connect(url);
      expect(await appliedMigrations(first)).toBe(journal.entries.length);
      const second = await connect(url);
      expect(await appliedMigrations(second)).toBe(journal.entries.length);
    });

    it('apply once when several processes start at the same time (advisory lock)', async () => {
      const url = await freshUrl();
      const handles = await Promise.all([connect(url), connect(url), connect(url)]);
      for (const handle of handles) expect(await appliedMigrations(handle)).toBe(journal.entries.length);
    });
  });

  describe('schema parity with SQLite', () => {
    interface Shape {
      /** table → column → nullable */
      columns: Record<string, Record<string, boolean>>;
      /** index name → unique */
      indexes: Record<string, boolean>;
    }

    function sqliteShape(): Shape {
      const client = openMemoryDatabase().$client;
      // SQLite's own catalog, read through better-sqlite3 itself: this side is SQLite by design.
      // eslint-disable-next-line no-restricted-syntax
      const tables = client
        .prepare(
          `select name from sqlite_master where type = 'table'
           and name not like 'sqlite_%' and name not like '__drizzle%' and name not like 'knowledge_fts%'`,
        )
        .pluck()
        .all() as string[];
      const shape: Shape = { columns: {}, indexes: {} };
      for (const table of tables) {
        const cols = client.pragma(`table_info(${table})`) as { name: string; notnull: number; pk: number }[];
        // A primary key column is never null, whether or not SQLite's DDL says NOT NULL.
        shape.columns[table] = Object.fromEntries(cols.map((c) => [c.name, c.notnull === 0 && c.pk === 0]));
        const indexes = client.pragma(`index_list(${table})`) as {
          name: string;
          unique: number;
          origin: string;
        }[];
        for (const ix of indexes) if (ix.origin !== 'pk') shape.indexes[ix.name] = ix.unique === 1;
      }
      client.close();
      return shape;
    }

    async function postgresShape(): Promise<Shape> {
      const cols = await selectRows<{ table_name: string; column_name: string; is_nullable: string }>(
        db,
        sql`select table_name, column_name, is_nullable from information_schema.columns where table_schema = 'public'`,
      );
      const shape: Shape = { columns: {}, indexes: {} };
      for (const c of cols) {
        // The full-text column stands in for SQLite's FTS5 table, left out above.
        if (c.table_name === 'knowledge_articles' && c.column_name === 'search') continue;
        (shape.columns[c.table_name] ??= {})[c.column_name] = c.is_nullable === 'YES';
      }
      // Primary keys left out on both sides (SQLite names them after the table, PostgreSQL after the constraint).
      const indexes = await selectRows<{ name: string; unique: boolean }>(
        db,
        sql`select c.relname as name, ix.indisunique as unique from pg_index ix
            join pg_class c on c.oid = ix.indexrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and not ix.indisprimary and c.relname <> 'knowledge_articles_search_idx'`,
      );
      for (const ix of indexes) shape.indexes[ix.name] = ix.unique;
      return shape;
    }

    it('has the same tables, columns, nullability and (unique) indexes on both databases', async () => {
      const [lite, pg] = [sqliteShape(), await postgresShape()];
      expect(Object.keys(pg.columns).sort()).toEqual(Object.keys(lite.columns).sort());
      for (const table of Object.keys(lite.columns))
        expect({ table, columns: pg.columns[table] }).toEqual({ table, columns: lite.columns[table] });
      expect(pg.indexes).toEqual(lite.indexes);
      // Not an empty comparison: the schema has its tables and its unique indexes.
      expect(Object.keys(lite.columns).length).toBeGreaterThan(30);
      expect(Object.values(lite.indexes).filter(Boolean).length).toBeGreaterThan(10);
    });
  });

  describe('audit_log', () => {
    /** The database's own message: drizzle wraps it as the cause of a "Failed query" error. */
    const refusal = (query: Promise<unknown>) =>
      query.then(
        () => 'done',
        (err: Error) => (err.cause instanceof Error ? err.cause.message : err.message),
      );

    it('refuses UPDATE, DELETE and TRUNCATE, and keeps the entry', async () => {
      await execute(
        db,
        sql`insert into audit_log (seq, key, at, actor, action, details, prev_hash, hash)
            values (1000, 'pg-test', '2026-01-01T00:00:00.000Z', 'olga', 'test', '{}', 'x', 'y')`,
      );
      expect(await refusal(execute(db, sql`update audit_log set actor = 'mallory' where seq = 1000`))).toBe(
        'audit_log is append-only',
      );
      expect(await refusal(execute(db, sql`delete from audit_log where seq = 1000`))).toBe(
        'audit_log is append-only',
      );
      expect(await refusal(execute(db, sql`truncate audit_log`))).toBe('audit_log is append-only');
      const rows = await selectRows<{ actor: string }>(db, sql`select actor from audit_log where seq = 1000`);
      expect(rows).toEqual([{ actor: 'olga' }]);
    });
  });

  describe('transaction()', () => {
    const addRole = (tx: DB | Tx, id: string) =>
      execute(tx, sql`insert into roles (id, name) values (${id}, ${id})`);
    const roleIds = async (prefix: string) =>
      (
        await selectRows<{ id: string }>(
          db,
          sql`select id from roles where id like ${`${prefix}%`} order by id`,
        )
      ).map((r) => r.id);

    it('commits what the body wrote, and rolls all of it back when the body throws', async () => {
      await transaction(db, (tx) => addRole(tx, 'c-kept'));
      await expect(
        transaction(db, async (tx) => {
          await addRole(tx, 'c-lost-1');
          await addRole(tx, 'c-lost-2');
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await roleIds('c-')).toEqual(['c-kept']);
    });

    it('joins a transaction already open: both commit or neither', async () => {
      await expect(
        transaction(db, async () => {
          await transaction(db, (tx) => addRole(tx, 'n-inner'));
          throw new Error('outer fails');
        }),
      ).rejects.toThrow('outer fails');
      expect(await roleIds('n-')).toEqual([]);
      await transaction(db, async (outer) => {
        await addRole(outer, 'n-outer');
        await transaction(db, (tx) => addRole(tx, 'n-joined'));
      });
      expect(await roleIds('n-')).toEqual(['n-joined', 'n-outer']);
    });

    it('orders two concurrent appends to a chain with serialize()', async () => {
      // Each reads the chain's last link and writes the next one: without the lock both read
      // the same last link (READ COMMITTED) and the second insert hits the primary key.
      const append = (who: string) =>
        transaction(db, async (tx) => {
          await serialize(tx, 'test-chain');
          const [last] = await selectRows<{ seq: number | null }>(
            tx,
            sql`select max(seq) as seq from audit_log where key like 'chain-%'`,
          );
          const seq = (last?.seq ?? 2000) + 1;
          await execute(tx, sql`select pg_sleep(0.1)`); // a window for the other to interleave
          await execute(
            tx,
            sql`insert into audit_log (seq, key, at, actor, action, details, prev_hash, hash)
                values (${seq}, ${`chain-${who}`}, '2026-01-01T00:00:00.000Z', ${who}, 'test', '{}', 'x', 'y')`,
          );
        });
      await Promise.all([append('a'), append('b')]);
      const rows = await selectRows<{ seq: number }>(
        db,
        sql`select seq from audit_log where key like 'chain-%' order by seq`,
      );
      expect(rows.map((r) => r.seq)).toEqual([2001, 2002]);
    });
  });

  describe('knowledge search', () => {
    const article = sql`insert into knowledge_articles (id, title, body, tags)
      values ('KB-PG', 'Badge printer', 'Hold the quokkamatic badge against the reader for two seconds.', 'badge')`;

    it('finds an article by a word of its body, on both databases', async () => {
      const lite = openMemoryDatabase();
      try {
        for (const handle of [lite, db]) {
          await execute(handle, article);
          const hits = await searchKnowledge(handle, 'quokkamatic');
          expect(hits.map((h) => h.id)).toEqual(['KB-PG']);
          expect(hits[0]!.snippet).toContain('[quokkamatic]');
          expect(hits[0]!.coverage).toBe(1);
          // A prefix and a stem find it too; a word it does not have does not.
          expect((await searchKnowledge(handle, 'quokka')).map((h) => h.id)).toEqual(['KB-PG']);
          expect((await searchKnowledge(handle, 'readers holding badges')).map((h) => h.id)).toEqual([
            'KB-PG',
          ]);
          expect(await searchKnowledge(handle, 'wombat')).toEqual([]);
        }
      } finally {
        await closeDatabase(lite);
      }
    });

    it('ranks a title match above the same word in a body', async () => {
      await execute(
        db,
        sql`insert into knowledge_articles (id, title, body) values
            ('KB-T-BODY', 'Unrelated heading', 'The zorbulator needs a restart now and then.'),
            ('KB-T-TITLE', 'Zorbulator basics', 'How the device works.')`,
      );
      expect((await searchKnowledge(db, 'zorbulator')).map((h) => h.id)).toEqual(['KB-T-TITLE', 'KB-T-BODY']);
    });

    it.each([
      '"',
      '*',
      '!',
      '&|',
      ':*',
      "'; drop table knowledge_articles; --",
      '\u0301',
      'a:b',
      'x'.repeat(3000),
    ])('never lets %j reach to_tsquery as syntax', async (input) => {
      expect(Array.isArray(await searchKnowledge(db, input))).toBe(true);
    });
  });
});
