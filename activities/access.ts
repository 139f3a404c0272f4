import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { itemAsOrdered } from '../service-catalog/items.js';
import type { ApprovalPolicy } from '../domain/approval.js';
import { clock, type ActivityDeps } from './deps.js';
import { notEntitled } from './entitlement.js';
import { recordRequestUndoneIn } from './requests.js';

export interface AccessItem {
  itemName: string;
  sensitive: boolean;
  securityGroup: string;
  groupName: string;
  approvalPolicy: ApprovalPolicy;
  bookmarkUrl: string | null;
}

export function createAccessActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** What access the item grants and who must approve it. Sensitive items always need a person. */
    async checkAccessItem(input: {
      catalogItemId: string;
      catalogItemVersion?: number;
      beneficiary: string;
    }): Promise<AccessItem> {
      const item = itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      if (!item || !item.active || item.type !== 'access' || !item.securityGroup) {
        throw notEntitled(`Catalog item ${input.catalogItemId} does not grant access to anything.`);
      }
      const group = db
        .select()
        .from(t.securityGroups)
        .where(eq(t.securityGroups.id, item.securityGroup))
        .get();
      if (!group) {
        throw ApplicationFailure.create({
          type: 'SecurityGroupMissing',
          message: `Security group ${item.securityGroup} does not exist in the directory.`,
          nonRetryable: true,
        });
      }
      const user = db.select().from(t.users).where(eq(t.users.id, input.beneficiary)).get();
      if (!user?.active) throw notEntitled(`User ${input.beneficiary} is not an active user.`);
      const sensitive = item.sensitivity === 'sensitive';
      return {
        itemName: item.name,
        sensitive,
        securityGroup: group.id,
        groupName: group.name,
        approvalPolicy: item.approvalPolicy ?? (sensitive ? [{ kind: 'manager' }] : []),
        bookmarkUrl: item.launchUrl,
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
      return db.transaction((tx) => {
        const res = tx
          .delete(t.securityGroupMembers)
          .where(eq(t.securityGroupMembers.requestId, input.requestId))
          .run();
        if (input.undoneBy) {
          recordRequestUndoneIn(tx, {
            requestId: input.requestId,
            step: 'revoke_access',
            message: res.changes
              ? `Access revoked: ${input.undoneBy} was cancelled.`
              : `${input.undoneBy} was cancelled; nothing was removed (the access comes from another request, which stands).`,
            at: now(),
          });
        }
        return { removed: res.changes };
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
      const res = db
        .insert(t.securityGroupMembers)
        .values({ ...input, addedAt: now() })
        .onConflictDoNothing()
        .run();
      return { added: res.changes > 0 };
    },
  };
}
