import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import type { Config } from '../../runtime/config.js';
import { approvalInbox } from '../../approvals/tasks.js';
import { decide } from '../decide.js';
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
      const rows = await approvalInbox(db, request.principal.id, { limit, offset });
      const items = rows.map((r) => ({
        ...r,
        links: {
          request: `/api/requests/${r.requestId}`,
          decide: `/api/requests/${r.requestId}/approvals`,
        },
      }));
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
