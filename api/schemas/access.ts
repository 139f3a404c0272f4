import { Type, type Static } from 'typebox';
import {
  CAMPAIGN_STATES,
  GRANT_END_REASONS,
  REVIEW_DEADLINE_POLICIES,
  REVIEW_DECISIONS,
  REVIEW_OUTCOMES,
} from '../../domain/access.js';
import { pageQuery } from './common.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(s: T) => Type.Union([s, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });
const DateTime = Type.String({ format: 'date-time' });

export const GrantId = Id;
export const GrantParams = Type.Object({ id: GrantId });

export const GrantView = Type.Object({
  id: Type.String(),
  requestId: Nullable(Type.String()),
  securityGroup: Type.String(),
  user: Type.String(),
  catalogItemId: Nullable(Type.String()),
  approvedBy: Type.Array(Type.String()),
  approvedAt: Nullable(Type.String()),
  justification: Nullable(Type.String()),
  grantedAt: Type.String(),
  /** Null: standing access. */
  until: Nullable(Type.String()),
  revokeOnLeave: Type.Boolean(),
  renewalOf: Nullable(Type.String()),
  state: Type.Union([Type.Literal('active'), Type.Literal('ended')]),
  /** How it ended; null while active. */
  ended: Type.Union([
    Type.Object({
      at: Type.String(),
      reason: Type.Enum(GRANT_END_REASONS),
      by: Nullable(Type.String()),
      comment: Nullable(Type.String()),
      auditSeq: Type.Union([Type.Integer(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  grantAuditSeq: Type.Union([Type.Integer(), Type.Null()]),
  links: Type.Object({ request: Type.Optional(Type.String()), renew: Type.Optional(Type.String()) }),
});
export type GrantView = Static<typeof GrantView>;

export const GrantList = Type.Object({ items: Type.Array(GrantView) });

export const ListGrantsQuery = Type.Object(
  {
    user: Type.Optional(Id),
    group: Type.Optional(Id),
    expiringBefore: Type.Optional(DateTime),
    state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('ended')])),
    ...pageQuery(100, 500),
  },
  { additionalProperties: false },
);

export const RevokeGrantBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

export const RenewGrantBody = Type.Object(
  {
    accessUntil: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'When the renewed access ends; default: as long again as the grant ran.',
      }),
    ),
    justification: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const StartCampaignBody = Type.Object(
  {
    groups: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 50 })),
    allSensitive: Type.Optional(
      Type.Boolean({ description: 'Every security group a sensitive catalog item grants' }),
    ),
    deadline: DateTime,
    policy: Type.Enum(REVIEW_DEADLINE_POLICIES, {
      description: 'What happens at the deadline to what nobody decided',
    }),
  },
  { additionalProperties: false },
);

export const ScheduleCampaignBody = Type.Object(
  {
    groups: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 50 })),
    allSensitive: Type.Optional(Type.Boolean()),
    every: Type.Union([Type.Literal('monthly'), Type.Literal('quarterly')]),
    deadlineAfter: Type.String({ pattern: '^[0-9]+(m|h|d)$', description: 'e.g. "14d" after each start' }),
    policy: Type.Enum(REVIEW_DEADLINE_POLICIES),
  },
  { additionalProperties: false },
);

export const ScheduleView = Type.Object({ scheduleId: Type.String(), every: Type.String() });

export const CampaignView = Type.Object({
  id: Type.String(),
  groups: Type.Array(Type.String()),
  deadline: Type.String(),
  policy: Type.Enum(REVIEW_DEADLINE_POLICIES),
  startedBy: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  scheduleId: Nullable(Type.String()),
  state: Type.Union([Type.Enum(CAMPAIGN_STATES), Type.Literal('starting')]),
  completedAt: Nullable(Type.String()),
  links: Type.Object({ self: Type.String(), report: Type.String() }),
});
export const CampaignList = Type.Object({ items: Type.Array(CampaignView) });
/** Campaign ids start REV- (a Schedule's runs too), so /tasks and /schedules are never one. */
const CampaignId = Type.String({ minLength: 5, maxLength: 100, pattern: '^REV-[A-Za-z0-9_.:-]+$' });
export const CampaignParams = Type.Object({ id: CampaignId });

export const ReviewItemView = Type.Object({
  id: Type.Integer(),
  campaignId: Type.String(),
  grantId: Type.String(),
  securityGroup: Type.String(),
  user: Type.String(),
  reviewer: Type.String(),
  decision: Type.Union([Type.Enum(REVIEW_DECISIONS), Type.Null()]),
  decidedBy: Nullable(Type.String()),
  comment: Nullable(Type.String()),
  decidedAt: Nullable(Type.String()),
  outcome: Type.Union([Type.Enum(REVIEW_OUTCOMES), Type.Null()]),
  auditSeq: Type.Union([Type.Integer(), Type.Null()]),
  /** The grant under review: the original request, its approvers and justification. */
  grant: Type.Object({
    requestId: Nullable(Type.String()),
    approvedBy: Type.Array(Type.String()),
    approvedAt: Nullable(Type.String()),
    justification: Nullable(Type.String()),
    grantedAt: Type.String(),
    until: Nullable(Type.String()),
  }),
});
export const ReviewItemList = Type.Object({ items: Type.Array(ReviewItemView) });

export const CampaignReport = Type.Object({
  campaign: CampaignView,
  items: Type.Array(ReviewItemView),
  /** Items per outcome (`undecided` while the campaign runs). */
  tally: Type.Record(Type.String(), Type.Integer()),
  /** Grants the campaign revoked, with the audit entry of each revocation. */
  revocations: Type.Array(
    Type.Object({
      grantId: Type.String(),
      user: Type.String(),
      securityGroup: Type.String(),
      auditSeq: Type.Union([Type.Integer(), Type.Null()]),
    }),
  ),
});

export const ReviewItemParams = Type.Object({
  id: Id,
  itemId: Type.Integer({ minimum: 1, maximum: 2 ** 31 }),
});

export const ReviewDecisionBody = Type.Object(
  {
    decision: Type.Enum(REVIEW_DECISIONS),
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
