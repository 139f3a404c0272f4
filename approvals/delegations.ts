import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { AuditWriter } from '../audit/log.js';
import * as t from '../db/schema.js';

/** The approvers `userId` may decide for: themselves, and whoever delegated to them (still in force). */
export function actingFor(db: AuditWriter, userId: string, nowIso = new Date().toISOString()): string[] {
  const delegators = db
    .select({ id: t.delegations.userId })
    .from(t.delegations)
    .where(
      and(
        eq(t.delegations.delegateId, userId),
        or(isNull(t.delegations.until), gt(t.delegations.until, nowIso)),
      ),
    )
    .all()
    .map((d) => d.id);
  return [userId, ...delegators];
}
