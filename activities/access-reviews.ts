import { createAccessReviews, type OpenCampaign } from '../access/reviews.js';
import type { ReviewDecisionInput, ReviewDeadlinePolicy } from '../domain/access.js';
import type { ActivityDeps } from './deps.js';

/** Thin adapters over the access reviews aggregate (access/reviews.ts); each is idempotent. */
export function createAccessReviewActivities(deps: ActivityDeps) {
  const reviews = createAccessReviews(deps);
  return {
    /** Opens the campaign (its review items and reviewers); a retry finds it open and answers the same. */
    async openAccessReview(input: OpenCampaign): Promise<{ reviewers: string[]; items: number }> {
      return reviews.open(input);
    },

    /** The reviewer's undecided items: ids, holders and groups, for the reminder and the workflow's state. */
    async pendingAccessReviews(input: {
      campaignId: string;
      reviewerId: string;
    }): Promise<{ id: number; userId: string; groupId: string }[]> {
      return (await reviews.items(input.campaignId, { reviewerId: input.reviewerId, pending: true })).map(
        (i) => ({ id: i.id, userId: i.userId, groupId: i.groupId }),
      );
    },

    /** Records a keep or revoke (revoking ends the grant in the same transaction, audited). */
    async decideAccessReview(
      input: ReviewDecisionInput,
    ): Promise<{ outcome: string | null; revokedTimed?: string }> {
      const r = await reviews.decide(input);
      return {
        outcome: r?.item.outcome ?? null,
        ...(r?.revokedTimed ? { revokedTimed: r.revokedTimed } : {}),
      };
    },

    /** The deadline: undecided items follow the campaign's policy. */
    async settleAccessReview(input: {
      campaignId: string;
      reviewerId: string;
      policy: ReviewDeadlinePolicy;
    }): Promise<{
      settled: { userId: string; groupId: string; outcome: string | null }[];
      revokedTimed: string[];
    }> {
      const results = await reviews.settleUndecided(input);
      return {
        settled: results.map((r) => ({
          userId: r.item.userId,
          groupId: r.item.groupId,
          outcome: r.item.outcome,
        })),
        revokedTimed: results.flatMap((r) => (r.revokedTimed ? [r.revokedTimed] : [])),
      };
    },

    async completeAccessReview(input: { campaignId: string }): Promise<void> {
      await reviews.complete(input.campaignId);
    },
  };
}
