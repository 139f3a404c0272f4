import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import type { Config } from '../../runtime/config.js';
import { actingFor, decide } from '../decide.js';
import { toView } from '../request-access.js';
import { DecisionBody, PendingApproval } from '../schemas/approvals.js';
import { authProblems, pageQuery, problemRef } from '../schemas/common.js';
import { RequestId, RequestView } from '../schemas/requests.js';

/** Approvals: what waits for me, and deciding on it. Registered under /api. */
const approvalsRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client; config: Config }> = async (
  app,
  { db, temporal, config },
) => {
  app.addHook('preHandler', app.authenticate);

  app.get(
    '/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'My pending approvals (and those delegated to me), with who, what and why',
        security: [{ bearerAuth: [] }],
        // The default page holds an inbox of a hundred.
        querystring: Type.Object(pageQuery(100, 500), { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(PendingApproval) }), ...authProblems },
      },
    },
    async (request) => {
      const { limit = 100, offset = 0 } = request.query;
      const rows = db
        .select({ task: t.approvalTasks, req: t.requests, itemName: t.catalogItems.name })
        .from(t.approvalTasks)
        .innerJoin(t.requests, eq(t.requests.id, t.approvalTasks.requestId))
        .innerJoin(t.catalogItems, eq(t.catalogItems.id, t.requests.catalogItemId))
        .where(
          and(
            eq(t.approvalTasks.state, 'pending'),
            inArray(t.approvalTasks.approverId, actingFor(db, request.principal.id)),
          ),
        )
        .orderBy(desc(t.approvalTasks.createdAt))
        .all();
      const me = request.principal.id;
      // Levels where I already decided (for myself or for someone): one person, one vote.
      const voted = new Set(
        db
          .select({ requestId: t.approvalTasks.requestId, level: t.approvalTasks.level })
          .from(t.approvalTasks)
          .where(eq(t.approvalTasks.decidedBy, me))
          .all()
          .map((v) => `${v.requestId}:${v.level}`),
      );
      const offered = new Set<string>();
      // Where I am an approver myself, that slot is offered, not a delegator's at the same level.
      const own = new Set(
        rows.filter((r) => r.task.approverId === me).map((r) => `${r.req.id}:${r.task.level}`),
      );
      return {
        items: rows
          .filter((r) => {
            // Never offer a request that benefits me or the approver I would act for (the
            // workflow refuses such a decision anyway), nor a second vote at one level.
            const parties = [r.req.requesterId, r.req.beneficiaryId];
            if (parties.includes(me) || parties.includes(r.task.approverId)) return false;
            const key = `${r.req.id}:${r.task.level}`;
            if (voted.has(key) || offered.has(key)) return false;
            if (own.has(key) && r.task.approverId !== me) return false;
            offered.add(key);
            return true;
          })
          .map((r) => ({
            requestId: r.req.id,
            level: r.task.level,
            approver: r.task.approverId,
            requester: r.req.requesterId,
            beneficiary: r.req.beneficiaryId,
            catalogItemId: r.req.catalogItemId,
            itemName: r.itemName,
            justification: r.req.justification,
            waitingSince: r.task.createdAt,
            links: { request: `/api/requests/${r.req.id}`, decide: `/api/requests/${r.req.id}/approvals` },
          }))
          .slice(offset, offset + limit),
      };
    },
  );

  app.post(
    '/requests/:id/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Approve or deny a request awaiting my decision',
        description:
          '403 for anyone who is not a pending approver (or their delegate); 409 when the request is not awaiting approval or the decision was already made.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: RequestId }),
        body: DecisionBody,
        response: { 200: RequestView, ...authProblems, 403: problemRef, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const row = await decide(db, temporal, {
        requestId: request.params.id,
        actor: request.principal.id,
        decision: request.body.decision,
        ...(request.body.comment ? { comment: request.body.comment } : {}),
        via: 'api',
      });
      return toView(config, row);
    },
  );
};

export default approvalsRoutes;
