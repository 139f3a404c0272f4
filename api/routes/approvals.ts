import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import type { Config } from '../../runtime/config.js';
import { actingFor } from '../../approvals/delegations.js';
import { decide } from '../decide.js';
import { toView } from '../request-access.js';
import { DecisionBody, PendingApproval } from '../schemas/approvals.js';
import { authProblems, pageQuery, problemRef } from '../schemas/common.js';
import { RequestId, RequestView } from '../schemas/requests.js';

/** Pending approvals read from the database at a time, until a page of offerable ones is full. */
const PAGE_READ = 200;

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
      const me = request.principal.id;
      // Only the columns the inbox shows (not the requests' steps and snapshots), newest first,
      // read until the page is full: the first page costs the same with ten or ten thousand waiting.
      const rows = db
        .select({
          requestId: t.approvalTasks.requestId,
          level: t.approvalTasks.level,
          approver: t.approvalTasks.approverId,
          waitingSince: t.approvalTasks.createdAt,
          requester: t.requests.requesterId,
          beneficiary: t.requests.beneficiaryId,
          catalogItemId: t.requests.catalogItemId,
          justification: t.requests.justification,
          itemName: t.catalogItems.name,
        })
        .from(t.approvalTasks)
        .innerJoin(t.requests, eq(t.requests.id, t.approvalTasks.requestId))
        .innerJoin(t.catalogItems, eq(t.catalogItems.id, t.requests.catalogItemId))
        .where(
          and(eq(t.approvalTasks.state, 'pending'), inArray(t.approvalTasks.approverId, actingFor(db, me))),
        )
        .orderBy(desc(t.approvalTasks.createdAt), desc(t.approvalTasks.id))
        .limit(PAGE_READ);
      // Levels where I already decided (for myself or for someone): one person, one vote.
      const voted = new Set(
        db
          .select({ requestId: t.approvalTasks.requestId, level: t.approvalTasks.level })
          .from(t.approvalTasks)
          .where(eq(t.approvalTasks.decidedBy, me))
          .all()
          .map((v) => `${v.requestId}:${v.level}`),
      );
      // Where I am an approver myself, that slot is offered, not a delegator's at the same level.
      // Asked only about the delegators' requests read, not about my whole inbox.
      const own = new Set<string>();
      const noteOwn = (chunk: { requestId: string; approver: string }[]) => {
        const theirs = [...new Set(chunk.filter((r) => r.approver !== me).map((r) => r.requestId))];
        if (theirs.length === 0) return;
        for (const o of db
          .select({ requestId: t.approvalTasks.requestId, level: t.approvalTasks.level })
          .from(t.approvalTasks)
          .where(
            and(
              eq(t.approvalTasks.state, 'pending'),
              eq(t.approvalTasks.approverId, me),
              inArray(t.approvalTasks.requestId, theirs),
            ),
          )
          .all())
          own.add(`${o.requestId}:${o.level}`);
      };
      const offered = new Set<string>();
      const items = [];
      let skipped = 0;
      const readFrom = function* () {
        for (let at = 0; ; at += PAGE_READ) {
          const chunk = rows.offset(at).all();
          noteOwn(chunk);
          yield* chunk;
          if (chunk.length < PAGE_READ) return;
        }
      };
      for (const r of readFrom()) {
        // Never offer a request that benefits me or the approver I would act for (the
        // workflow refuses such a decision anyway), nor a second vote at one level.
        const parties = [r.requester, r.beneficiary];
        if (parties.includes(me) || parties.includes(r.approver)) continue;
        const key = `${r.requestId}:${r.level}`;
        if (voted.has(key) || offered.has(key)) continue;
        if (own.has(key) && r.approver !== me) continue;
        offered.add(key);
        if (skipped++ < offset) continue;
        items.push({
          ...r,
          links: {
            request: `/api/requests/${r.requestId}`,
            decide: `/api/requests/${r.requestId}/approvals`,
          },
        });
        if (items.length >= limit) break;
      }
      return { items };
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
