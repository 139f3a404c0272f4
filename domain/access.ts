// The access vocabulary shared by the catalog, the grants aggregate, the workflows and the API.
// Dependency-free: workflows import it.

/**
 * How long an access item may be held. `choices` are the durations the portal offers
 * (e.g. "1d", "7d", "90d"); `untilDate` lets a person name the day it ends instead;
 * `maxDuration` caps either; `required` refuses a request without `accessUntil`.
 */
export interface AccessDuration {
  maxDuration?: string;
  choices?: string[];
  untilDate?: boolean;
  required?: boolean;
}

/** How a grant ended: its own expiry, or one of the early revocations. */
export const GRANT_END_REASONS = [
  'expired',
  'revoked',
  'review',
  'deactivated',
  'renewed',
  'superseded',
  'cancelled',
] as const;
export type GrantEndReason = (typeof GRANT_END_REASONS)[number];

export const REVIEW_DECISIONS = ['keep', 'revoke'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

/** What happens at a campaign's deadline to what nobody decided. */
export const REVIEW_DEADLINE_POLICIES = ['revoke', 'keep_and_escalate'] as const;
export type ReviewDeadlinePolicy = (typeof REVIEW_DEADLINE_POLICIES)[number];

/** How each review item ended up. */
export const REVIEW_OUTCOMES = [
  'kept',
  'revoked',
  'revoked_at_deadline',
  'kept_escalated',
  'already_ended',
] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

export const CAMPAIGN_STATES = ['running', 'completed'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** The grant's expiry timer runs as its own workflow, with this id. */
export const grantTimerWorkflowId = (grantId: string) => `${grantId}-expiry`;
/** The campaign's workflow id, and one child per reviewer. */
export const campaignWorkflowId = (campaignId: string) => campaignId;
export const reviewerWorkflowId = (campaignId: string, reviewerId: string) => `${campaignId}-${reviewerId}`;

export interface GrantTimerInput {
  grantId: string;
  requestId: string;
  beneficiary: string;
  itemName: string;
  catalogItemId: string;
  securityGroup: string;
  /** ISO-8601 UTC. */
  until: string;
  /** How long before `until` the beneficiary is reminded (e.g. "1d"). */
  remindBefore: string;
}

export interface ReviewCampaignInput {
  /** Unset when a Schedule starts it: the workflow id (the Schedule's id and the time) is the campaign id. */
  campaignId?: string;
  /** Security group ids, or `sensitive`: every group a sensitive catalog item grants. */
  scope: string[] | 'sensitive';
  /** ISO-8601 UTC; or `deadlineAfter` (e.g. "14d") from the start, for a Schedule. */
  deadline?: string;
  deadlineAfter?: string;
  policy: ReviewDeadlinePolicy;
  /** How long before the deadline reviewers with undecided items are reminded. */
  remindBefore: string;
  startedBy: string;
  scheduleId?: string;
}

export interface ReviewerInput {
  campaignId: string;
  reviewerId: string;
  deadline: string;
  policy: ReviewDeadlinePolicy;
  remindBefore: string;
}

export interface ReviewDecisionInput {
  itemId: number;
  decision: ReviewDecision;
  comment?: string;
  /** Who decided (the reviewer). */
  by: string;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "7d" and so on (the catalog's duration format) in milliseconds; NaN for anything else. */
export function durationMs(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(d);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
}

/**
 * Why `until` is not allowed for the item, or undefined when it is. `now` is when it was asked.
 * The end must be in the future and within `maxDuration` (or the longest choice when only
 * choices are offered); without an end, the item must not require one.
 */
export function accessUntilProblem(
  d: AccessDuration | null | undefined,
  until: string | undefined,
  now: number,
): string | undefined {
  if (until === undefined) {
    return d?.required ? 'This item grants access for a limited time: send accessUntil.' : undefined;
  }
  if (!d) return 'This item grants standing access: it takes no accessUntil.';
  const end = Date.parse(until);
  if (Number.isNaN(end)) return `accessUntil "${until}" is not a date-time.`;
  if (end <= now) return `accessUntil ${until} is in the past.`;
  const limits = [d.maxDuration, ...(d.untilDate || d.maxDuration ? [] : (d.choices ?? []))]
    .filter((x): x is string => x !== undefined)
    .map(durationMs);
  const longest = d.maxDuration ? durationMs(d.maxDuration) : Math.max(...limits);
  if (limits.length > 0 && end - now > longest) {
    const max = d.maxDuration ?? d.choices?.slice().sort((a, b) => durationMs(b) - durationMs(a))[0];
    return `accessUntil ${until} is further away than this item allows (at most ${max}).`;
  }
  return undefined;
}
