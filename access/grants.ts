import { and, asc, eq, isNotNull, isNull, lt, type SQL } from 'drizzle-orm';
import { appendAuditEntry, type AuditWriter } from '../audit/log.js';
import type { DB, Tx } from '../db/client.js';
import { serialize, transaction } from '../db/transaction.js';
import * as t from '../db/schema.js';
import type { GrantEndReason } from '../domain/access.js';

export type GrantRow = typeof t.accessGrants.$inferSelect;

export interface AccessDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

export interface GrantInput {
  /** The request that asked for it; also the grant's id. */
  requestId: string;
  groupId: string;
  userId: string;
  catalogItemId: string;
  approvedBy: string[];
  approvedAt: string;
  justification?: string;
  approvalAuditSeq: number;
  /** ISO-8601 UTC; absent: standing access. */
  until?: string;
  revokeOnLeave: boolean;
  renewalOf?: string;
  /** Details for the `access.granted` audit entry (the approvals). */
  details?: Record<string, unknown>;
}

export interface GrantFilter {
  userId?: string;
  groupId?: string;
  /** Active grants that end before this instant (ISO-8601). */
  expiringBefore?: string;
  state?: 'active' | 'ended';
  limit?: number;
}

export interface Revocation {
  grantId: string;
  reason: GrantEndReason;
  /** Who revoked: a person's id, `reqflow` (expiry), `scim` (deactivation). */
  by: string;
  comment?: string;
}

export interface RevokeResult {
  /** False: the grant had already ended, and nothing was done (never a second revocation). */
  revoked: boolean;
  grant: GrantRow;
  /** Whether a membership row was removed (another grant may have held it). */
  removed: boolean;
  /** Whether an expiry timer (a workflow) waits on this grant. */
  timed: boolean;
}

/** The membership a grant holds: the row that names its request (or none, for memberships older than grants). */
const heldBy = (g: Pick<GrantRow, 'groupId' | 'userId' | 'requestId'>) =>
  and(
    eq(t.securityGroupMembers.groupId, g.groupId),
    eq(t.securityGroupMembers.userId, g.userId),
    g.requestId === null
      ? isNull(t.securityGroupMembers.requestId)
      : eq(t.securityGroupMembers.requestId, g.requestId),
  );

/**
 * Ends a grant inside the caller's transaction: membership removed, audited, pointing at the
 * grant's entry.
 */
export async function endGrantIn(
  tx: AuditWriter,
  at: string,
  grant: GrantRow,
  r: Omit<Revocation, 'grantId'>,
): Promise<RevokeResult> {
  if (grant.endedAt) return { revoked: false, grant, removed: false, timed: grant.until !== null };
  const removed =
    (
      await tx
        .delete(t.securityGroupMembers)
        .where(heldBy(grant))
        .returning({ userId: t.securityGroupMembers.userId })
    ).length > 0;
  const entry = await appendAuditEntry(tx, at, {
    key: `access.revoked:${grant.id}`,
    actor: r.by,
    action: 'access.revoked',
    ...(grant.requestId ? { requestId: grant.requestId } : {}),
    subject: grant.userId,
    details: {
      grantId: grant.id,
      grantAuditSeq: grant.grantAuditSeq,
      securityGroup: grant.groupId,
      user: grant.userId,
      reason: r.reason,
      removed,
      ...(grant.until ? { until: grant.until } : {}),
      ...(r.comment ? { comment: r.comment } : {}),
    },
  });
  const ended = {
    endedAt: at,
    endReason: r.reason,
    endedBy: r.by,
    endComment: r.comment ?? null,
    endAuditSeq: entry.seq,
  };
  await tx.update(t.accessGrants).set(ended).where(eq(t.accessGrants.id, grant.id));
  return { revoked: true, grant: { ...grant, ...ended }, removed, timed: grant.until !== null };
}

/**
 * Inside the caller's transaction (a cancelled bundle marks its request undone in the same one):
 * a cancelled request takes back the membership it granted, and its grant ends as `cancelled`.
 * The workflow audits it. Returns how many memberships it removed.
 */
export async function takeBackIn(tx: Tx, at: string, requestId: string): Promise<{ removed: number }> {
  const removed = await tx
    .delete(t.securityGroupMembers)
    .where(eq(t.securityGroupMembers.requestId, requestId))
    .returning({ groupId: t.securityGroupMembers.groupId });
  await tx
    .update(t.accessGrants)
    .set({ endedAt: at, endReason: 'cancelled', endedBy: 'reqflow' })
    .where(and(eq(t.accessGrants.id, requestId), isNull(t.accessGrants.endedAt)));
  return { removed: removed.length };
}

/**
 * Deactivation, inside the directory's change: every active grant of the person whose item is
 * marked `revokeOnLeave` ends, each audited. Returns the grants it ended.
 */
export async function revokeOnLeaveIn(
  tx: AuditWriter,
  at: string,
  userId: string,
  by: string,
): Promise<RevokeResult[]> {
  const grants = await tx
    .select()
    .from(t.accessGrants)
    .where(
      and(
        eq(t.accessGrants.userId, userId),
        eq(t.accessGrants.revokeOnLeave, true),
        isNull(t.accessGrants.endedAt),
      ),
    );
  const ended: RevokeResult[] = [];
  for (const g of grants) {
    ended.push(
      await endGrantIn(tx, at, g, {
        reason: 'deactivated',
        by,
        comment: `${userId} was deactivated in the directory.`,
      }),
    );
  }
  return ended;
}

/**
 * The access aggregate: grants and the security-group memberships they hold. It alone writes
 * `access_grants` and `security_group_members`; a grant, a revocation and the audit entry that
 * records it commit together. Revoking is idempotent per grant, so an expiry that races an
 * operator, a review or a deactivation revokes once.
 */
export function createAccessGrants(deps: AccessDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  const read = async (q: DB | Tx, id: string): Promise<GrantRow | undefined> => {
    const [grant] = await q.select().from(t.accessGrants).where(eq(t.accessGrants.id, id)).limit(1);
    return grant;
  };

  return {
    get: (id: string): Promise<GrantRow | undefined> => read(db, id),

    async list(filter: GrantFilter): Promise<GrantRow[]> {
      const where: SQL[] = [];
      if (filter.userId) where.push(eq(t.accessGrants.userId, filter.userId));
      if (filter.groupId) where.push(eq(t.accessGrants.groupId, filter.groupId));
      if (filter.expiringBefore) {
        where.push(lt(t.accessGrants.until, filter.expiringBefore), isNull(t.accessGrants.endedAt));
      }
      if (filter.state === 'active') where.push(isNull(t.accessGrants.endedAt));
      if (filter.state === 'ended') where.push(isNotNull(t.accessGrants.endedAt));
      return db
        .select()
        .from(t.accessGrants)
        .where(and(...where))
        .orderBy(asc(t.accessGrants.grantedAt), asc(t.accessGrants.id))
        .limit(filter.limit ?? 500);
    },

    /**
     * Grants access: the grant record, the membership and the `access.granted` audit entry in one
     * transaction. Idempotent by request (a retried activity returns the first answer). A member
     * through a time-bound grant that ends sooner (the grant being renewed, say) hands the
     * membership over, and that grant ends as `renewed` or `superseded`, so its expiry removes nothing.
     */
    async grant(input: GrantInput): Promise<{ added: boolean; grant: GrantRow; supersededTimed?: string }> {
      return transaction(db, async (tx) => {
        await serialize(tx, 'audit_log');
        const existing = await read(tx, input.requestId);
        if (existing) return { added: false, grant: existing };
        const at = now();
        const [member] = await tx
          .select()
          .from(t.securityGroupMembers)
          .where(
            and(
              eq(t.securityGroupMembers.groupId, input.groupId),
              eq(t.securityGroupMembers.userId, input.userId),
            ),
          )
          .limit(1);
        const holder = member?.requestId ? await read(tx, member.requestId) : undefined;
        const takeOver =
          holder !== undefined &&
          holder.endedAt === null &&
          holder.until !== null &&
          (input.until === undefined || input.until > holder.until);
        const entry = await appendAuditEntry(tx, at, {
          key: `access.granted:${input.requestId}`,
          actor: 'reqflow',
          action: 'access.granted',
          requestId: input.requestId,
          subject: input.userId,
          details: {
            grantId: input.requestId,
            securityGroup: input.groupId,
            user: input.userId,
            added: member === undefined || takeOver,
            approvalAuditSeq: input.approvalAuditSeq,
            ...(input.until ? { until: input.until } : {}),
            ...(input.renewalOf ? { renewalOf: input.renewalOf } : {}),
            ...input.details,
          },
        });
        const row: GrantRow = {
          id: input.requestId,
          requestId: input.requestId,
          groupId: input.groupId,
          userId: input.userId,
          catalogItemId: input.catalogItemId,
          approvedBy: input.approvedBy,
          approvedAt: input.approvedAt,
          justification: input.justification ?? null,
          approvalAuditSeq: input.approvalAuditSeq,
          grantAuditSeq: entry.seq,
          grantedAt: at,
          until: input.until ?? null,
          revokeOnLeave: input.revokeOnLeave,
          renewalOf: input.renewalOf ?? null,
          endedAt: null,
          endReason: null,
          endedBy: null,
          endComment: null,
          endAuditSeq: null,
        };
        await tx.insert(t.accessGrants).values(row);
        const membership = {
          requestId: input.requestId,
          approvalAuditSeq: input.approvalAuditSeq,
          addedAt: at,
        };
        if (!member) {
          await tx
            .insert(t.securityGroupMembers)
            .values({ groupId: input.groupId, userId: input.userId, ...membership });
          return { added: true, grant: row };
        }
        if (!takeOver) return { added: false, grant: row };
        await tx.update(t.securityGroupMembers).set(membership).where(heldBy(holder));
        const ended = {
          endedAt: at,
          endReason: input.renewalOf === holder.id ? ('renewed' as const) : ('superseded' as const),
          endedBy: 'reqflow',
          endComment: `Continued by ${input.requestId}.`,
          endAuditSeq: entry.seq,
        };
        await tx.update(t.accessGrants).set(ended).where(eq(t.accessGrants.id, holder.id));
        return { added: true, grant: row, supersededTimed: holder.id };
      });
    },

    /**
     * A membership granted the way requests did before grants were records (a workflow replaying
     * its old steps): a standing grant without its own audit entry (the workflow writes it).
     */
    async recordMembership(input: {
      requestId: string;
      groupId: string;
      userId: string;
      approvalAuditSeq: number;
    }): Promise<{ added: boolean }> {
      return transaction(db, async (tx) => {
        const at = now();
        const added = await tx
          .insert(t.securityGroupMembers)
          .values({ ...input, addedAt: at })
          .onConflictDoNothing()
          .returning({ groupId: t.securityGroupMembers.groupId });
        await tx
          .insert(t.accessGrants)
          .values({
            id: input.requestId,
            requestId: input.requestId,
            groupId: input.groupId,
            userId: input.userId,
            approvalAuditSeq: input.approvalAuditSeq,
            grantedAt: at,
          })
          .onConflictDoNothing();
        return { added: added.length > 0 };
      });
    },

    /** Ends one grant (expiry, an operator, a review); a grant already ended is left as it is. */
    async revoke(r: Revocation): Promise<RevokeResult | undefined> {
      return transaction(db, async (tx) => {
        await serialize(tx, 'audit_log');
        const grant = await read(tx, r.grantId);
        return grant ? await endGrantIn(tx, now(), grant, r) : undefined;
      });
    },

    /** A cancelled request takes back what it granted; the workflow audits it. */
    async revokeForCancelledRequest(requestId: string): Promise<{ removed: number }> {
      return transaction(db, (tx) => takeBackIn(tx, now(), requestId));
    },

    /** Deactivation outside a directory change (see revokeOnLeaveIn). */
    async revokeOnLeave(userId: string, by: string): Promise<RevokeResult[]> {
      return transaction(db, async (tx) => {
        await serialize(tx, 'audit_log');
        return revokeOnLeaveIn(tx, now(), userId, by);
      });
    },
  };
}

export type AccessGrants = ReturnType<typeof createAccessGrants>;
