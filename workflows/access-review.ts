import { toMs } from '../domain/duration.js';
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  reviewerWorkflowId,
  type ReviewCampaignInput,
  type ReviewDecisionInput,
  type ReviewerInput,
} from '../domain/access.js';
import { endGrantTimer } from './access-grant.js';
import { acts } from './activity-proxies.js';

/** A reviewer's keep or revoke on one item; the validator refuses an item that is not theirs to decide now. */
export const reviewDecisionUpdate = defineUpdate<{ outcome: string | null }, [ReviewDecisionInput]>(
  'reviewDecision',
);
/** The review item ids the reviewer has yet to decide. */
export const pendingReviewsQuery = defineQuery<number[]>('pendingReviews');

// Failure types the API maps to HTTP statuses.
export const NOT_REVIEWER = 'NotReviewer';
export const REVIEW_CLOSED = 'ReviewClosed';

/**
 * One reviewer's part of an access review (ITIL access management, certification): their review
 * items wait for a keep or revoke; a reminder goes out ahead of the deadline; at the deadline what
 * is still undecided follows the campaign's policy (revoke, or keep and escalate to the operators).
 */
export async function accessReviewerTasks(
  input: ReviewerInput,
): Promise<{ decided: number; settled: number }> {
  const { campaignId, reviewerId } = input;
  const items = await acts.pendingAccessReviews({ campaignId, reviewerId });
  const pending = new Set(items.map((i) => i.id));
  let closed = false;
  let decided = 0;
  setHandler(pendingReviewsQuery, () => [...pending]);
  setHandler(
    reviewDecisionUpdate,
    async (d) => {
      pending.delete(d.itemId);
      const r = await acts.decideAccessReview(d);
      decided++;
      if (r.revokedTimed) await endGrantTimer(r.revokedTimed, 'review');
      return { outcome: r.outcome };
    },
    {
      validator: (d: ReviewDecisionInput) => {
        if (closed) throw ApplicationFailure.nonRetryable('The review is closed.', REVIEW_CLOSED);
        if (d.by !== reviewerId || !pending.has(d.itemId)) {
          throw ApplicationFailure.nonRetryable(
            `Item ${d.itemId} is not awaiting ${d.by}'s review.`,
            NOT_REVIEWER,
          );
        }
      },
    },
  );

  const deadline = Date.parse(input.deadline);
  const remindAt = deadline - toMs(input.remindBefore);
  const notify = (key: string, subject: string, body: string, who: string[]) =>
    acts.notifyPeople({
      key: `${campaignId}:${reviewerId}:${key}`,
      who,
      subject,
      body,
      links: { review: `/reviews?campaign=${encodeURIComponent(campaignId)}` },
    });

  await notify(
    'assigned',
    `Access review ${campaignId}: ${pending.size} to review`,
    `Keep or revoke the access of ${items.map((i) => `${i.userId} (${i.groupId})`).join(', ')} by ${new Date(deadline).toUTCString()}. Undecided access is handled by the campaign's policy (${input.policy}).`,
    [reviewerId],
  );
  const allDecided = () => pending.size === 0;
  if (remindAt > Date.now() && !(await condition(allDecided, remindAt - Date.now()))) {
    await notify(
      'reminder',
      `Reminder: access review ${campaignId} ends ${new Date(deadline).toUTCString()}`,
      `${pending.size} item(s) still wait for your decision.`,
      [reviewerId],
    );
  }
  const left = deadline - Date.now();
  if (left > 0) await condition(allDecided, left);
  closed = true;
  // A decision accepted before the deadline finishes before the rest is settled.
  await condition(allHandlersFinished);
  const { settled, revokedTimed } = await acts.settleAccessReview({
    campaignId,
    reviewerId,
    policy: input.policy,
  });
  for (const grantId of revokedTimed) await endGrantTimer(grantId, 'review');
  if (input.policy === 'keep_and_escalate' && settled.length > 0) {
    await notify(
      'escalated',
      `Access review ${campaignId}: ${reviewerId} left ${settled.length} undecided`,
      `Kept for now, to be decided by an operator: ${settled.map((s) => `${s.userId} (${s.groupId})`).join(', ')}.`,
      ['group:operators'],
    );
  }
  return { decided, settled: settled.length };
}

/**
 * An access review campaign (certification): every holder of the groups under review gets a
 * review item for their manager (or the group's owner); one child workflow per reviewer; the
 * campaign completes, with its report, once every reviewer's part has ended. A Temporal Schedule
 * may start it (e.g. quarterly).
 */
export async function accessReviewCampaign(
  input: ReviewCampaignInput,
): Promise<{ campaignId: string; reviewers: number; items: number }> {
  const campaignId = input.campaignId ?? workflowInfo().workflowId;
  const deadline = input.deadline ?? new Date(Date.now() + toMs(input.deadlineAfter ?? '14d')).toISOString();
  const { reviewers, items } = await acts.openAccessReview({
    campaignId,
    scope: input.scope,
    deadline,
    policy: input.policy,
    startedBy: input.startedBy,
    ...(input.scheduleId ? { scheduleId: input.scheduleId } : {}),
  });
  await Promise.all(
    reviewers.map((reviewerId) =>
      executeChild(accessReviewerTasks, {
        workflowId: reviewerWorkflowId(campaignId, reviewerId),
        args: [{ campaignId, reviewerId, deadline, policy: input.policy, remindBefore: input.remindBefore }],
      }),
    ),
  );
  await acts.completeAccessReview({ campaignId });
  return { campaignId, reviewers: reviewers.length, items };
}
