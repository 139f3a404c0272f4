import { and, asc, desc, eq, inArray, isNull } from 'drizzle-orm';
import { appendAuditEntry } from '../audit/log.js';
import type { Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';
import type { ReviewDeadlinePolicy, ReviewDecision, ReviewOutcome } from '../domain/access.js';
import { endGrantIn, type AccessDeps, type GrantRow } from './grants.js';

export type CampaignRow = typeof t.accessReviewCampaigns.$inferSelect;
export type ReviewItemRow = typeof t.accessReviewItems.$inferSelect;

export interface OpenCampaign {
  campaignId: string;
  /** Security group ids, or `sensitive`: every group a sensitive catalog item grants. */
  scope: string[] | 'sensitive';
  deadline: string;
  policy: ReviewDeadlinePolicy;
  startedBy: string;
  scheduleId?: string;
}

/** A review item as a reviewer and an auditor see it: the grant under review beside the decision. */
export interface ReviewItemView extends ReviewItemRow {
  grant: Pick<
    GrantRow,
    'requestId' | 'approvedBy' | 'approvedAt' | 'justification' | 'until' | 'grantedAt' | 'endAuditSeq'
  >;
}

export interface DecisionResult {
  item: ReviewItemRow;
  /** The grant's expiry timer must stop: the review revoked a time-bound grant. */
  revokedTimed?: string;
}

type ItemWithGrant = { item: ReviewItemRow; grant: GrantRow };

/** Operators reached when nobody else can review a holder (no active manager, no service owner). */
const FALLBACK_GROUP = 'operators';

/**
 * The access reviews aggregate: certification campaigns and their review items. It alone writes
 * `access_review_campaigns` and `access_review_items`; a decision to revoke ends the grant through
 * the access aggregate's own transactional step, in the same transaction as the decision and its
 * audit entry.
 */
export function createAccessReviews(deps: AccessDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();

  const withGrants = async (rows: ReviewItemRow[]): Promise<ReviewItemView[]> => {
    if (rows.length === 0) return [];
    const found = await db
      .select()
      .from(t.accessGrants)
      .where(
        inArray(
          t.accessGrants.id,
          rows.map((r) => r.grantId),
        ),
      );
    const grants = new Map(found.map((g) => [g.id, g]));
    return rows.map((r) => {
      const g = grants.get(r.grantId)!;
      return {
        ...r,
        grant: {
          requestId: g.requestId,
          approvedBy: g.approvedBy,
          approvedAt: g.approvedAt,
          justification: g.justification,
          until: g.until,
          grantedAt: g.grantedAt,
          endAuditSeq: g.endAuditSeq,
        },
      };
    });
  };

  /** The holder's active manager; else the service owner of the item that grants the group; else an operator. */
  async function reviewerOf(q: Tx, grant: GrantRow): Promise<string | undefined> {
    const user = async (id: string) => (await q.select().from(t.users).where(eq(t.users.id, id)).limit(1))[0];
    const holder = await user(grant.userId);
    const manager = holder?.managerId ? await user(holder.managerId) : undefined;
    if (manager?.active && manager.id !== grant.userId) return manager.id;
    const owners = await q
      .select({ id: t.catalogItems.serviceOwnerId })
      .from(t.catalogItems)
      .where(and(eq(t.catalogItems.securityGroup, grant.groupId), eq(t.catalogItems.type, 'access')));
    const owner = owners.find((o) => o.id && o.id !== grant.userId)?.id;
    if (owner) return owner;
    const operators = await q
      .select({ id: t.groupMembers.userId })
      .from(t.groupMembers)
      .where(eq(t.groupMembers.groupId, FALLBACK_GROUP));
    return operators.find((m) => m.id !== grant.userId)?.id;
  }

  async function decideIn(
    at: string,
    itemId: number,
    d: { decision: ReviewDecision; by: string; comment?: string; outcome?: ReviewOutcome },
  ): Promise<DecisionResult | undefined> {
    return transaction(db, async (tx) => {
      await serialize(tx, 'audit_log');
      // Read inside the transaction: a decision and the deadline may race, and only the first counts.
      const found = await load(tx, itemId);
      if (!found) return undefined;
      const { item, grant } = found;
      if (item.decision) return { item };
      const revoke = d.decision === 'revoke';
      const ended = revoke
        ? await endGrantIn(tx, at, grant, {
            reason: 'review',
            by: d.by,
            comment: `Access review ${item.campaignId}${d.comment ? `: ${d.comment}` : ''}`,
          })
        : undefined;
      const outcome: ReviewOutcome =
        revoke && !ended?.revoked ? 'already_ended' : (d.outcome ?? (revoke ? 'revoked' : 'kept'));
      const entry = await appendAuditEntry(tx, at, {
        key: `access.review.decided:${item.id}`,
        actor: d.by,
        action: 'access.review.decided',
        ...(grant.requestId ? { requestId: grant.requestId } : {}),
        subject: grant.userId,
        details: {
          campaignId: item.campaignId,
          grantId: grant.id,
          securityGroup: grant.groupId,
          decision: d.decision,
          outcome,
          ...(d.comment ? { comment: d.comment } : {}),
          ...(ended?.revoked ? { revocationAuditSeq: ended.grant.endAuditSeq } : {}),
        },
      });
      const decided = {
        decision: d.decision,
        decidedBy: d.by,
        comment: d.comment ?? null,
        decidedAt: at,
        outcome,
        auditSeq: entry.seq,
      };
      await tx.update(t.accessReviewItems).set(decided).where(eq(t.accessReviewItems.id, item.id));
      return {
        item: { ...item, ...decided },
        ...(ended?.revoked && ended.timed ? { revokedTimed: grant.id } : {}),
      };
    });
  }

  async function load(q: Tx, itemId: number): Promise<ItemWithGrant | undefined> {
    const [item] = await q
      .select()
      .from(t.accessReviewItems)
      .where(eq(t.accessReviewItems.id, itemId))
      .limit(1);
    const [grant] = item
      ? await q.select().from(t.accessGrants).where(eq(t.accessGrants.id, item.grantId)).limit(1)
      : [];
    return item && grant ? { item, grant } : undefined;
  }

  return {
    async getCampaign(id: string): Promise<CampaignRow | undefined> {
      const [campaign] = await db
        .select()
        .from(t.accessReviewCampaigns)
        .where(eq(t.accessReviewCampaigns.id, id))
        .limit(1);
      return campaign;
    },

    /** Campaigns, newest first; `reviewerId`: only those that gave this person something to review. */
    async listCampaigns(reviewerId?: string): Promise<CampaignRow[]> {
      const ids = reviewerId
        ? (
            await db
              .selectDistinct({ id: t.accessReviewItems.campaignId })
              .from(t.accessReviewItems)
              .where(eq(t.accessReviewItems.reviewerId, reviewerId))
          ).map((r) => r.id)
        : undefined;
      if (ids?.length === 0) return [];
      return db
        .select()
        .from(t.accessReviewCampaigns)
        .where(ids ? inArray(t.accessReviewCampaigns.id, ids) : undefined)
        .orderBy(desc(t.accessReviewCampaigns.startedAt));
    },

    /**
     * Opens the campaign: one review item per active grant in its groups, each with its reviewer.
     * Idempotent (a retried activity finds the campaign and answers the same). Returns the reviewers.
     */
    async open(input: OpenCampaign): Promise<{ reviewers: string[]; items: number }> {
      const at = now();
      await transaction(db, async (tx) => {
        await serialize(tx, 'audit_log');
        const [exists] = await tx
          .select({ id: t.accessReviewCampaigns.id })
          .from(t.accessReviewCampaigns)
          .where(eq(t.accessReviewCampaigns.id, input.campaignId))
          .limit(1);
        if (exists) return;
        const groups =
          input.scope === 'sensitive'
            ? [
                ...new Set(
                  (
                    await tx
                      .select({ g: t.catalogItems.securityGroup })
                      .from(t.catalogItems)
                      .where(
                        and(eq(t.catalogItems.type, 'access'), eq(t.catalogItems.sensitivity, 'sensitive')),
                      )
                  )
                    .map((r) => r.g)
                    .filter((g): g is string => g !== null),
                ),
              ].sort()
            : input.scope;
        await tx.insert(t.accessReviewCampaigns).values({
          id: input.campaignId,
          groups,
          deadline: input.deadline,
          policy: input.policy,
          startedBy: input.startedBy,
          startedAt: at,
          scheduleId: input.scheduleId ?? null,
        });
        const grants = groups.length
          ? await tx
              .select()
              .from(t.accessGrants)
              .where(and(inArray(t.accessGrants.groupId, groups), isNull(t.accessGrants.endedAt)))
              .orderBy(asc(t.accessGrants.groupId), asc(t.accessGrants.userId))
          : [];
        const items = [];
        for (const g of grants) {
          const reviewerId = await reviewerOf(tx, g);
          if (reviewerId) {
            items.push({
              campaignId: input.campaignId,
              grantId: g.id,
              groupId: g.groupId,
              userId: g.userId,
              reviewerId,
            });
          }
        }
        if (items.length) await tx.insert(t.accessReviewItems).values(items);
        await appendAuditEntry(tx, at, {
          key: `access.review.started:${input.campaignId}`,
          actor: input.startedBy,
          action: 'access.review.started',
          subject: input.campaignId,
          details: { groups, deadline: input.deadline, policy: input.policy, items: items.length },
        });
      });
      const items = await db
        .select({ reviewerId: t.accessReviewItems.reviewerId })
        .from(t.accessReviewItems)
        .where(eq(t.accessReviewItems.campaignId, input.campaignId));
      return { reviewers: [...new Set(items.map((i) => i.reviewerId))].sort(), items: items.length };
    },

    /** A campaign's review items; `reviewerId` narrows them to one reviewer's, `pending` to the undecided. */
    async items(
      campaignId: string | undefined,
      opts: { reviewerId?: string; pending?: boolean } = {},
    ): Promise<ReviewItemView[]> {
      const rows = await db
        .select()
        .from(t.accessReviewItems)
        .where(
          and(
            campaignId ? eq(t.accessReviewItems.campaignId, campaignId) : undefined,
            opts.reviewerId ? eq(t.accessReviewItems.reviewerId, opts.reviewerId) : undefined,
            opts.pending ? isNull(t.accessReviewItems.decision) : undefined,
          ),
        )
        .orderBy(asc(t.accessReviewItems.id));
      return withGrants(rows);
    },

    /**
     * A reviewer's keep or revoke. Revoking ends the grant in the same transaction, audited; a
     * grant that ended meanwhile is recorded as `already_ended`. Undefined for an unknown item;
     * a decided item answers its first decision.
     */
    async decide(input: {
      itemId: number;
      decision: ReviewDecision;
      by: string;
      comment?: string;
    }): Promise<DecisionResult | undefined> {
      const { itemId, ...d } = input;
      return decideIn(now(), itemId, d);
    },

    /**
     * The deadline: what the reviewer left undecided follows the campaign's policy: revoked, or
     * kept and escalated. Returns the items it settled.
     */
    async settleUndecided(input: {
      campaignId: string;
      reviewerId: string;
      policy: ReviewDeadlinePolicy;
    }): Promise<DecisionResult[]> {
      const at = now();
      const pending = await db
        .select({ id: t.accessReviewItems.id })
        .from(t.accessReviewItems)
        .where(
          and(
            eq(t.accessReviewItems.campaignId, input.campaignId),
            eq(t.accessReviewItems.reviewerId, input.reviewerId),
            isNull(t.accessReviewItems.decision),
          ),
        );
      const revoke = input.policy === 'revoke';
      const settled: DecisionResult[] = [];
      // One transaction per item, as a reviewer's own decisions are: a decision racing the deadline counts once.
      for (const { id } of pending) {
        const r = await decideIn(at, id, {
          decision: revoke ? 'revoke' : 'keep',
          by: 'reqflow',
          comment: `Not reviewed by ${input.reviewerId} before the deadline.`,
          outcome: revoke ? 'revoked_at_deadline' : 'kept_escalated',
        });
        if (r) settled.push(r);
      }
      return settled;
    },

    /** Marks the campaign completed, audited with its tally. */
    async complete(campaignId: string): Promise<CampaignRow | undefined> {
      const at = now();
      return transaction(db, async (tx) => {
        await serialize(tx, 'audit_log');
        const [c] = await tx
          .select()
          .from(t.accessReviewCampaigns)
          .where(eq(t.accessReviewCampaigns.id, campaignId))
          .limit(1);
        if (!c || c.state === 'completed') return c;
        const outcomes = await tx
          .select({ outcome: t.accessReviewItems.outcome })
          .from(t.accessReviewItems)
          .where(eq(t.accessReviewItems.campaignId, campaignId));
        const tally: Record<string, number> = {};
        for (const o of outcomes)
          tally[o.outcome ?? 'undecided'] = (tally[o.outcome ?? 'undecided'] ?? 0) + 1;
        await appendAuditEntry(tx, at, {
          key: `access.review.completed:${campaignId}`,
          actor: 'reqflow',
          action: 'access.review.completed',
          subject: campaignId,
          details: { tally },
        });
        await tx
          .update(t.accessReviewCampaigns)
          .set({ state: 'completed', completedAt: at })
          .where(eq(t.accessReviewCampaigns.id, campaignId));
        return { ...c, state: 'completed' as const, completedAt: at };
      });
    },

    /** Whether the person reviews anything in the campaign (they may read it, not the others' parts). */
    async isReviewer(campaignId: string, userId: string): Promise<boolean> {
      const [item] = await db
        .select({ id: t.accessReviewItems.id })
        .from(t.accessReviewItems)
        .where(
          and(eq(t.accessReviewItems.campaignId, campaignId), eq(t.accessReviewItems.reviewerId, userId)),
        )
        .limit(1);
      return item !== undefined;
    },
  };
}

export type AccessReviews = ReturnType<typeof createAccessReviews>;
