import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type CalendarSpec,
  type Client,
} from '@temporalio/client';
import { inArray } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { createAccessReviews, type CampaignRow, type ReviewItemView } from '../../access/reviews.js';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { campaignWorkflowId, reviewerWorkflowId, type ReviewCampaignInput } from '../../domain/access.js';
import type { Config } from '../../runtime/config.js';
import type { accessReviewCampaign } from '../../workflows/access-review.js';
import { temporalProblem } from '../temporal-problems.js';
import { NOT_REVIEWER, REVIEW_CLOSED, reviewDecisionUpdate } from '../workflow-contract.js';
import { conflict, forbidden, notFound, unprocessable } from '../errors.js';
import type { UserPrincipal } from '../plugins/auth.js';
import {
  CampaignList,
  CampaignParams,
  CampaignReport,
  CampaignView,
  ReviewDecisionBody,
  ReviewItemList,
  ReviewItemParams,
  ReviewItemView as ReviewItemSchema,
  ScheduleCampaignBody,
  ScheduleView,
  StartCampaignBody,
} from '../schemas/access.js';
import { authProblems, problemRef } from '../schemas/common.js';

const seesAll = (user: UserPrincipal) => user.isOperator || user.groups.includes('auditors');

const campaignView = (c: CampaignRow) => ({
  ...c,
  links: {
    self: `/api/access/reviews/${c.id}`,
    report: `/api/access/reviews/${c.id}/report`,
  },
});

const itemView = (i: ReviewItemView) => ({
  id: i.id,
  campaignId: i.campaignId,
  grantId: i.grantId,
  securityGroup: i.groupId,
  user: i.userId,
  reviewer: i.reviewerId,
  decision: i.decision,
  decidedBy: i.decidedBy,
  comment: i.comment,
  decidedAt: i.decidedAt,
  outcome: i.outcome,
  auditSeq: i.auditSeq,
  grant: i.grant,
});

// `schedules` and `tasks` are no campaign: the id's own pattern says so, and GET /schedules
// must not look like a GET of a campaign (method-not-allowed reads the pattern).
const CAMPAIGN = '/:id(^REV-[A-Za-z0-9_.:-]+$)';

// Calendar of each cadence, 06:00 UTC on the first day of the period.
const CADENCES: Record<'monthly' | 'quarterly', CalendarSpec> = {
  monthly: { dayOfMonth: 1, hour: 6, minute: 0 },
  quarterly: { month: ['JANUARY', 'APRIL', 'JULY', 'OCTOBER'], dayOfMonth: 1, hour: 6, minute: 0 },
};

/**
 * Access reviews (certification campaigns): operators start or schedule them; reviewers see and
 * decide their own items; operators and auditors read every campaign's report.
 */
const accessReviewRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client; config: Config }> = async (
  app,
  { db, temporal, config },
) => {
  const reviews = createAccessReviews({ db });
  app.addHook('preHandler', app.authenticate);
  const base = { tags: ['access'], security: [{ bearerAuth: [] }] };

  /** The groups a body names, checked: exactly one of groups or allSensitive, every group known. */
  async function scopeOf(body: { groups?: string[] | undefined; allSensitive?: boolean | undefined }) {
    if ((body.groups === undefined) === (body.allSensitive !== true)) {
      throw unprocessable('Name the security groups to review, or set allSensitive (one of the two).', [
        { path: 'body/groups', message: 'groups or allSensitive' },
      ]);
    }
    if (!body.groups) return 'sensitive' as const;
    const groups = [...new Set(body.groups)];
    const found = await db
      .select({ id: t.securityGroups.id })
      .from(t.securityGroups)
      .where(inArray(t.securityGroups.id, groups));
    const known = new Set(found.map((g) => g.id));
    const unknown = groups.filter((g) => !known.has(g));
    if (unknown.length > 0) {
      throw unprocessable(`Unknown security group(s): ${unknown.join(', ')}.`, [
        { path: 'body/groups', message: `unknown: ${unknown.join(', ')}` },
      ]);
    }
    return groups;
  }

  const operatorsOnly = (user: UserPrincipal) => {
    if (!user.isOperator) throw forbidden('Only operators start access reviews.');
  };

  app.post(
    '/',
    {
      schema: {
        ...base,
        summary: 'Start an access review of security groups (operators)',
        description:
          "Each holder's manager (or the group's owner) gets a review item per holder; at the deadline what is undecided follows the policy.",
        body: StartCampaignBody,
        response: { 202: CampaignView, ...authProblems, 422: problemRef },
      },
    },
    async (request, reply) => {
      const me = request.principal;
      operatorsOnly(me);
      const scope = await scopeOf(request.body);
      const deadline = new Date(request.body.deadline);
      if (deadline.getTime() <= Date.now()) {
        throw unprocessable(`The deadline ${request.body.deadline} is in the past.`, [
          { path: 'body/deadline', message: 'in the past' },
        ]);
      }
      const campaignId = `REV-${randomBytes(6).toString('hex').toUpperCase()}`;
      const input: ReviewCampaignInput = {
        campaignId,
        scope,
        deadline: deadline.toISOString(),
        policy: request.body.policy,
        remindBefore: config.access.reviewRemindBefore,
        startedBy: me.id,
      };
      // Opened here so the answer shows it; the workflow's own open finds it and goes on.
      await reviews.open({ ...input, deadline: input.deadline!, campaignId });
      await temporal.workflow.start<typeof accessReviewCampaign>('accessReviewCampaign', {
        workflowId: campaignWorkflowId(campaignId),
        taskQueue: config.temporal.taskQueue,
        args: [input],
      });
      const row = (await reviews.getCampaign(campaignId))!;
      return reply.code(202).header('location', `/api/access/reviews/${campaignId}`).send(campaignView(row));
    },
  );

  app.post(
    '/schedules',
    {
      schema: {
        ...base,
        summary: 'Review access on a Temporal Schedule, monthly or quarterly (operators)',
        body: ScheduleCampaignBody,
        response: { 201: ScheduleView, ...authProblems, 409: problemRef, 422: problemRef },
      },
    },
    async (request, reply) => {
      const me = request.principal;
      operatorsOnly(me);
      const scope = await scopeOf(request.body);
      const { every, deadlineAfter, policy } = request.body;
      const scheduleId = `${config.temporal.taskQueue}-access-review-${every}-${scope === 'sensitive' ? 'sensitive' : scope.join('+')}`;
      const args: [ReviewCampaignInput] = [
        {
          scope,
          deadlineAfter,
          policy,
          remindBefore: config.access.reviewRemindBefore,
          startedBy: me.id,
          scheduleId,
        },
      ];
      try {
        await temporal.schedule.create({
          scheduleId,
          spec: { calendars: [{ ...CADENCES[every], comment: `Access review (${every})` }], timezone: 'UTC' },
          action: {
            type: 'startWorkflow',
            workflowType: 'accessReviewCampaign',
            args,
            taskQueue: config.temporal.taskQueue,
            // The server appends the nominal time: each run is a campaign of its own.
            workflowId: `REV-${every}`,
          },
          policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
        });
      } catch (err) {
        if (err instanceof ScheduleAlreadyRunning) throw conflict(`Schedule ${scheduleId} already exists.`);
        throw err;
      }
      return reply.code(201).send({ scheduleId, every });
    },
  );

  app.get(
    '/',
    {
      schema: {
        ...base,
        summary: 'Access review campaigns: operators and auditors all, reviewers theirs',
        response: { 200: CampaignList, ...authProblems },
      },
    },
    async (request) => {
      const me = request.principal;
      const rows = await reviews.listCampaigns(seesAll(me) ? undefined : me.id);
      return { items: rows.map(campaignView) };
    },
  );

  app.get(
    '/tasks',
    {
      schema: {
        ...base,
        summary: 'My review tasks: the access I am asked to keep or revoke, with the original request',
        response: { 200: ReviewItemList, ...authProblems },
      },
    },
    async (request) => {
      const items = await reviews.items(undefined, { reviewerId: request.principal.id, pending: true });
      const running = new Set(
        (await reviews.listCampaigns(request.principal.id))
          .filter((c) => c.state === 'running')
          .map((c) => c.id),
      );
      return { items: items.filter((i) => running.has(i.campaignId)).map(itemView) };
    },
  );

  /** The campaign, if the caller takes part in it (operators, auditors, its reviewers). */
  async function campaignFor(user: UserPrincipal, id: string): Promise<CampaignRow> {
    const c = await reviews.getCampaign(id);
    if (!c || (!seesAll(user) && !(await reviews.isReviewer(id, user.id)))) {
      throw notFound(`No access review ${id}.`);
    }
    return c;
  }

  app.get(
    CAMPAIGN,
    {
      schema: {
        ...base,
        summary: 'One campaign, with the items the caller reviews (operators and auditors: all)',
        params: CampaignParams,
        response: { 200: ReviewItemList, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const me = request.principal;
      const c = await campaignFor(me, request.params.id);
      const items = await reviews.items(c.id, seesAll(me) ? {} : { reviewerId: me.id });
      return { items: items.map(itemView) };
    },
  );

  app.get(
    `${CAMPAIGN}/report`,
    {
      schema: {
        ...base,
        summary: "A campaign's report for auditors: who decided what, and the revocations done",
        params: CampaignParams,
        response: { 200: CampaignReport, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const me = request.principal;
      const c = await campaignFor(me, request.params.id);
      if (!seesAll(me)) throw forbidden('Campaign reports are for operators and auditors.');
      const reviewed = await reviews.items(c.id);
      const items = reviewed.map(itemView);
      const tally: Record<string, number> = {};
      for (const i of items) tally[i.outcome ?? 'undecided'] = (tally[i.outcome ?? 'undecided'] ?? 0) + 1;
      const ended = new Map(reviewed.map((i) => [i.grantId, i.grant.endAuditSeq]));
      const revocations = items
        .filter((i) => i.outcome === 'revoked' || i.outcome === 'revoked_at_deadline')
        .map((i) => ({
          grantId: i.grantId,
          user: i.user,
          securityGroup: i.securityGroup,
          auditSeq: ended.get(i.grantId) ?? null,
        }));
      return { campaign: campaignView(c), items, tally, revocations };
    },
  );

  app.post(
    `${CAMPAIGN}/items/:itemId/decision`,
    {
      schema: {
        ...base,
        summary: 'Keep or revoke one holder’s access (the item’s reviewer), with a comment',
        params: ReviewItemParams,
        body: ReviewDecisionBody,
        response: { 200: ReviewItemSchema, ...authProblems, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const me = request.principal;
      const { id, itemId } = request.params;
      const item = (await reviews.items(id, { reviewerId: me.id })).find((i) => i.id === itemId);
      if (!item) throw notFound(`No review item ${itemId} of yours in ${id}.`);
      const c = (await reviews.getCampaign(id))!;
      if (item.decision) throw conflict(`Item ${itemId} was already decided: ${item.decision}.`);
      if (c.state !== 'running') throw conflict(`Access review ${id} is ${c.state}.`);
      try {
        await temporal.workflow.getHandle(reviewerWorkflowId(id, me.id)).executeUpdate(reviewDecisionUpdate, {
          args: [
            {
              itemId,
              decision: request.body.decision,
              by: me.id,
              ...(request.body.comment ? { comment: request.body.comment } : {}),
            },
          ],
        });
      } catch (err) {
        throw temporalProblem(err, {
          closed: () =>
            conflict(`Access review ${id} takes no decisions from ${me.id} now (not open yet, or closed).`),
          refused: { [REVIEW_CLOSED]: conflict, [NOT_REVIEWER]: conflict },
        });
      }
      const decided = (await reviews.items(id, { reviewerId: me.id })).find((i) => i.id === itemId)!;
      return itemView(decided);
    },
  );
};

export default accessReviewRoutes;
