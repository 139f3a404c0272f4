import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { onPostgres, openTestDatabase } from './helpers/test-database.js';
import type { Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';

const role = (id: string) => ({ id, name: `Role ${id}` });

describe('transaction()', () => {
  it('commits what the body wrote, and rolls all of it back when the body throws', async () => {
    const db = await openTestDatabase();
    await transaction(db, async (tx) => {
      await tx.insert(t.roles).values(role('kept'));
    });
    await expect(
      transaction(db, async (tx) => {
        await tx.insert(t.roles).values(role('lost-1'));
        await tx.insert(t.roles).values(role('lost-2'));
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect((await db.select().from(t.roles)).map((r) => r.id)).toEqual(['kept']);
  });

  it('joins a transaction already open in the same async context: both commit or neither', async () => {
    const db = await openTestDatabase();
    await expect(
      transaction(db, async () => {
        await transaction(db, async (tx) => {
          await tx.insert(t.roles).values(role('inner'));
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await db.select().from(t.roles)).toEqual([]);
  });

  // SQLite's transactions run one at a time in the process; PostgreSQL's run side by side (below).
  it.skipIf(onPostgres)(
    'runs concurrent transactions one after the other, so a read-then-write is not lost',
    async () => {
      expect(await twentyConcurrentBumps(async () => {})).toBe('20');
    },
  );

  // On PostgreSQL a plain read takes no lock: serialize() is how a writer holds the others back.
  it.runIf(onPostgres)(
    'on PostgreSQL, a read-then-write that serializes on a name first is not lost',
    async () => {
      expect(await twentyConcurrentBumps((tx) => serialize(tx, 'counter'))).toBe('20');
    },
  );

  it('does not let work left running by a finished body join it', async () => {
    const db = await openTestDatabase();
    let later: Promise<void> | undefined;
    await transaction(db, async () => {
      later = new Promise<void>((resolve) => setTimeout(resolve, 10)).then(() =>
        transaction(db, async (tx) => {
          await tx.insert(t.roles).values(role('afterwards'));
        }),
      );
    });
    await later;
    expect((await db.select().from(t.roles)).map((r) => r.id)).toEqual(['afterwards']);
  });
});

/** Twenty concurrent transactions each read a counter and write it back plus one; its final value. */
async function twentyConcurrentBumps(beforeRead: (tx: Tx) => Promise<void>): Promise<string> {
  const db = await openTestDatabase();
  await db.insert(t.roles).values({ id: 'counter', name: '0' });
  const bump = () =>
    transaction(db, async (tx) => {
      await beforeRead(tx);
      const [row] = await tx.select().from(t.roles).where(eq(t.roles.id, 'counter'));
      await Promise.resolve(); // another body would run here if nothing held it back
      await tx
        .update(t.roles)
        .set({ name: String(Number(row!.name) + 1) })
        .where(eq(t.roles.id, 'counter'));
    });
  await Promise.all(Array.from({ length: 20 }, bump));
  const [row] = await db.select().from(t.roles).where(eq(t.roles.id, 'counter'));
  return row!.name;
}
