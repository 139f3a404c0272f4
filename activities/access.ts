import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { createAccessGrants, takeBackIn, type GrantInput } from '../access/grants.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { itemAsOrdered } from '../service-catalog/items.js';
import type { ApprovalPolicy } from '../domain/approval.js';
import { clock, type ActivityDeps } from './deps.js';
import { notEntitled } from './entitlement.js';
import { recordRequestUndoneIn } from '../requests/index.js';

export interface AccessItem {
  itemName: string;
  sensitive: boolean;
  securityGroup: string;
  groupName: string;
  approvalPolicy: ApprovalPolicy;
  bookmarkUrl: string | null;
  /** The catalog marks it: deactivation in the directory revokes it. */
  revokeOnLeave?: boolean;
}

export function createAccessActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  const grants = createAccessGrants(deps);
  return {
    /** What access the item grants and who must approve it. Sensitive items always need a person. */
    async checkAccessItem(input: {
      catalogItemId: string;
      catalogItemVersion?: number;
      beneficiary: string;
      /** A renewal: the item's renewal policy, when it names one, instead of its approval policy. */
      renewal?: boolean;
    }): Promise<AccessItem> {
      const item = await itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      if (!item || !item.active || item.type !== 'access' || !item.securityGroup) {
        throw notEntitled(`Catalog item ${input.catalogItemId} does not grant access to anything.`);
      }
      const [group] = await db
        .select()
        .from(t.securityGroups)
        .where(eq(t.securityGroups.id, item.securityGroup))
        .limit(1);
      if (!group) {
        throw ApplicationFailure.create({
          type: 'SecurityGroupMissing',
          message: `Security group ${item.securityGroup} does not exist in the directory.`,
          nonRetryable: true,
        });
      }
      const [user] = await db.select().from(t.users).where(eq(t.users.id, input.beneficiary)).limit(1);
      if (!user?.active) throw notEntitled(`User ${input.beneficiary} is not an active user.`);
      const sensitive = item.sensitivity === 'sensitive';
      return {
        itemName: item.name,
        sensitive,
        securityGroup: group.id,
        groupName: group.name,
        approvalPolicy:
          (input.renewal ? item.renewalApprovalPolicy : null) ??
          item.approvalPolicy ??
          (sensitive ? [{ kind: 'manager' }] : []),
        bookmarkUrl: item.launchUrl,
        revokeOnLeave: item.revokeOnLeave,
      };
    },

    /**
     * Undoes a grant (a cancelled bundle): removes the memberships this request added and,
     * with `undoneBy`, marks the request itself cancelled, in one transaction. A membership
     * another request added stays: that grant was approved on its own.
     */
    async revokeGroupMemberships(input: {
      requestId: string;
      undoneBy?: string;
    }): Promise<{ removed: number }> {
      return transaction(db, async (tx) => {
        const at = now();
        const { removed } = await takeBackIn(tx, at, input.requestId);
        if (input.undoneBy) {
          await recordRequestUndoneIn(tx, {
            requestId: input.requestId,
            step: 'revoke_access',
            message: removed
              ? `Access revoked: ${input.undoneBy} was cancelled.`
              : `${input.undoneBy} was cancelled; nothing was removed (the access comes from another request, which stands).`,
            at,
          });
        }
        return { removed };
      });
    },

    /**
     * Adds the user to the security group. Idempotent: a retried activity, or a user
     * who is already a member, is not an error and never adds twice.
     */
    async grantGroupMembership(input: {
      requestId: string;
      groupId: string;
      userId: string;
      approvalAuditSeq: number;
    }): Promise<{ added: boolean }> {
      return grants.recordMembership(input);
    },

    /**
     * Grants access as a record: the grant (with its end, if time-bound), the membership and the
     * `access.granted` audit entry in one transaction. Idempotent by request.
     */
    async grantAccess(
      input: GrantInput,
    ): Promise<{ added: boolean; grantAuditSeq: number; supersededTimed?: string }> {
      const r = await grants.grant(input);
      return {
        added: r.added,
        grantAuditSeq: r.grant.grantAuditSeq ?? 0,
        ...(r.supersededTimed ? { supersededTimed: r.supersededTimed } : {}),
      };
    },

    /** At a grant's end: revokes it unless something ended it already (then nothing happens). */
    async expireAccessGrant(input: { grantId: string }): Promise<{ revoked: boolean; removed: boolean }> {
      const r = await grants.revoke({ grantId: input.grantId, reason: 'expired', by: 'reqflow' });
      return { revoked: r?.revoked ?? false, removed: r?.removed ?? false };
    },

    /** Whether the grant is still in force (a timer that resumes after an early revoke stops). */
    async accessGrantActive(input: { grantId: string }): Promise<boolean> {
      const g = await grants.get(input.grantId);
      return g !== undefined && g.endedAt === null;
    },
  };
}
