import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openMemoryDatabase } from '../db/client.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';

const role = (id: string) => ({ id, name: `Role ${id}` });

describe('transaction()', () => {
  it('commits what the body wrote, and rolls all of it back when the body throws', async () => {
    const db = openMemoryDatabase();
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
    const db = openMemoryDatabase();
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

  it('runs concurrent transactions one after the other, so a read-then-write is not lost', async () => {
    const db = openMemoryDatabase();
    await db.insert(t.roles).values({ id: 'counter', name: '0' });
    const bump = () =>
      transaction(db, async (tx) => {
        const [row] = await tx.select().from(t.roles).where(eq(t.roles.id, 'counter'));
        await Promise.resolve(); // another body would run here if nothing held it back
        await tx
          .update(t.roles)
          .set({ name: String(Number(row!.name) + 1) })
          .where(eq(t.roles.id, 'counter'));
      });
    await Promise.all(Array.from({ length: 20 }, bump));
    const [row] = await db.select().from(t.roles).where(eq(t.roles.id, 'counter'));
    expect(row!.name).toBe('20');
  });

  it('does not let work left running by a finished body join it', async () => {
    const db = openMemoryDatabase();
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
