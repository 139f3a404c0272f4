import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * Delegations: an approver who is away names a delegate who may decide for them. This module
 * alone writes `delegations`.
 */

export type DelegationRow = typeof t.delegations.$inferSelect;
/** A delegation as its approver names it. */
export type Delegation = Pick<DelegationRow, 'userId' | 'delegateId' | 'until'>;

/** The approvers `userId` may decide for: themselves, and whoever delegated to them (still in force). */
export async function actingFor(
  db: DB | Tx,
  userId: string,
  nowIso = new Date().toISOString(),
): Promise<string[]> {
  const delegators = await db
    .select({ id: t.delegations.userId })
    .from(t.delegations)
    .where(
      and(
        eq(t.delegations.delegateId, userId),
        or(isNull(t.delegations.until), gt(t.delegations.until, nowIso)),
      ),
    );
  return [userId, ...delegators.map((d) => d.id)];
}

export async function findDelegation(db: DB, userId: string): Promise<DelegationRow | undefined> {
  const [row] = await db.select().from(t.delegations).where(eq(t.delegations.userId, userId)).limit(1);
  return row;
}

/**
 * Names (or replaces) `userId`'s one delegate, who must be someone else and active; `until`,
 * when given, must lie ahead. Returns the delegation, or why it was refused (nothing changed).
 */
export async function delegate(
  db: DB,
  row: Delegation,
  nowMs = Date.now(),
): Promise<{ delegation: Delegation } | { refused: string }> {
  if (row.delegateId === row.userId) return { refused: 'You cannot delegate to yourself.' };
  const [active] = await db
    .select({ id: t.users.id })
    .from(t.users)
    .where(and(eq(t.users.id, row.delegateId), eq(t.users.active, true)))
    .limit(1);
  if (!active) return { refused: `Unknown or inactive user "${row.delegateId}".` };
  if (row.until && Date.parse(row.until) <= nowMs) return { refused: '"until" must be in the future.' };
  await db
    .insert(t.delegations)
    .values(row)
    .onConflictDoUpdate({
      target: t.delegations.userId,
      set: { delegateId: row.delegateId, until: row.until },
    });
  return { delegation: row };
}

/** Ends `userId`'s delegation, if any. */
export async function endDelegation(db: DB, userId: string): Promise<void> {
  await db.delete(t.delegations).where(eq(t.delegations.userId, userId));
}
