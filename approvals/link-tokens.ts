import { eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * Approve/deny links work once: this module alone writes `used_approval_tokens`, the ids of
 * the links already spent.
 */

export async function isLinkSpent(db: DB, tokenId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: t.usedApprovalTokens.tokenId })
    .from(t.usedApprovalTokens)
    .where(eq(t.usedApprovalTokens.tokenId, tokenId))
    .limit(1);
  return row !== undefined;
}

/**
 * Spends a link before its decision is made, so two clicks racing cannot both decide. False:
 * it was spent already (by the other click).
 */
export async function spendLink(db: DB, link: { tokenId: string; requestId: string }): Promise<boolean> {
  const spent = await db
    .insert(t.usedApprovalTokens)
    .values(link)
    .onConflictDoNothing()
    .returning({ id: t.usedApprovalTokens.tokenId });
  return spent.length > 0;
}

/** Gives a link back when its decision failed for a reason the approver could retry. */
export async function unspendLink(db: DB, tokenId: string): Promise<void> {
  await db.delete(t.usedApprovalTokens).where(eq(t.usedApprovalTokens.tokenId, tokenId));
}
