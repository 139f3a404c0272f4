import { and, desc, eq, type SQL } from 'drizzle-orm';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import * as t from '../../db/schema.js';
import { answerFeedbackUpdate } from '../workflow-contract.js';
import { temporalProblem } from '../temporal-problems.js';
import { isFinalStatus } from '../../domain/status.js';
import { conflict, forbidden } from '../errors.js';
import { decideDeployment } from '../deployment-decision.js';
import { currentRequest, toView, visibleRequest } from '../request-access.js';
import { listChildRequests } from '../../requests/index.js';
import { authProblems, problemRef } from '../schemas/common.js';
import {
  CreateRequestBody,
  CreateRequestHeaders,
  ListRequestsQuery,
  RequestId,
  RequestView,
} from '../schemas/requests.js';
import { submitRequest, type SubmitDeps } from '../submit-request.js';

const SUBMIT_BODY_LIMIT = 1024 * 1024;

const requestsRoutes: FastifyPluginAsyncTypebox<SubmitDeps> = async (app, deps) => {
  const { db, config } = deps;
  app.addHook('preHandler', app.authenticate);

  app.post(
    '/',
    {
      // The form's fields may hold 50 × 4000 characters (up to 4 bytes each in UTF-8): the
      // API's 64 KiB limit would refuse a request the schema allows, with 413 instead of 400.
      bodyLimit: SUBMIT_BODY_LIMIT,
      schema: {
        tags: ['requests'],
        summary: 'Submit a request for a catalog item',
        description:
          'Starts the request workflow. When the entitlement result is ready within a short wait the answer already carries it. ' +
          'The same Idempotency-Key from the same user returns the same request.',
        security: [{ bearerAuth: [] }],
        headers: CreateRequestHeaders,
        body: CreateRequestBody,
        response: {
          202: RequestView,
          ...authProblems,
          403: problemRef,
          422: problemRef,
          501: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      const { row } = await submitRequest(
        deps,
        request.principal,
        request.body,
        request.headers['idempotency-key'],
      );
      const view = toView(config, row);
      return reply.code(202).header('location', view.links.self).send(view);
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags: ['requests'],
        summary: 'My requests (operators: all), newest first',
        security: [{ bearerAuth: [] }],
        querystring: ListRequestsQuery,
        response: { 200: Type.Object({ items: Type.Array(RequestView) }), ...authProblems },
      },
    },
    async (request) => {
      const user = request.principal;
      const { status, type, limit = 50, offset = 0 } = request.query;
      const filters: (SQL | undefined)[] = [
        status ? eq(t.requests.status, status) : undefined,
        type ? eq(t.requests.type, type) : undefined,
      ];
      const newestFirst = [desc(t.requests.createdAt), desc(t.requests.id)];
      const page = (where: SQL | undefined, take: number, skip = 0) =>
        db
          .select()
          .from(t.requests)
          .where(where)
          .orderBy(...newestFirst)
          .limit(take)
          .offset(skip);
      let rows: (typeof t.requests.$inferSelect)[];
      if (user.isOperator) rows = await page(and(...filters), limit, offset);
      else {
        // Mine as requester and mine as beneficiary, each read newest first along its own
        // index up to the page's end, then merged: an OR of the two would sort every request
        // of the person before the first page.
        const upTo = offset + limit;
        const merged = new Map<string, typeof t.requests.$inferSelect>();
        for (const r of [
          ...(await page(and(...filters, eq(t.requests.requesterId, user.id)), upTo)),
          ...(await page(and(...filters, eq(t.requests.beneficiaryId, user.id)), upTo)),
        ])
          merged.set(r.id, r);
        rows = [...merged.values()]
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
          .slice(offset, upTo);
      }
      return { items: rows.map((r) => toView(config, r)) };
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags: ['requests'],
        summary: 'One request: status, steps, approvals, outcome',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: RequestId }),
        response: { 200: RequestView, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const row = await visibleRequest(db, request.principal, request.params.id);
      const children = await listChildRequests(db, row.id);
      return { ...toView(config, row), ...(children.length > 0 ? { children } : {}) };
    },
  );

  app.post(
    '/:id/cancel',
    {
      schema: {
        tags: ['requests'],
        summary: 'Cancel a request that is not finished yet (requester or operator)',
        description:
          'The workflow unwinds what it did (seat released, job withdrawn, approvals closed). 409 once the request has ended.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: RequestId }),
        response: { 202: RequestView, ...authProblems, 403: problemRef, 404: problemRef, 409: problemRef },
      },
    },
    async (request, reply) => {
      const user = request.principal;
      const row = await visibleRequest(db, user, request.params.id);
      if (row.requesterId !== user.id && !user.isOperator) {
        throw forbidden('Only the requester or an operator may cancel a request.');
      }
      if (isFinalStatus(row.status)) throw conflict(`Request ${row.id} has already ended (${row.status}).`);
      try {
        await deps.temporal.workflow.getHandle(row.id).cancel();
      } catch (err) {
        throw temporalProblem(err, { closed: () => conflict(`Request ${row.id} has already ended.`) });
      }
      // The cancellation is recorded; the workflow unwinds on its own and the view follows.
      return reply.code(202).send(toView(config, await currentRequest(db, row.id)));
    },
  );

  // An operator's decision on a failed deployment that waits for one: the same rules both ways.
  const decisionRoute = (
    path: '/:id/retry' | '/:id/give-up',
    action: 'retry' | 'give_up',
    summary: string,
    description: string,
  ) =>
    app.post(
      path,
      {
        schema: {
          tags: ['requests'],
          summary,
          description:
            `${description} Only while the request waits for an operator's decision (status awaiting_decision); ` +
            '409 otherwise. Audited with the operator and the reason.',
          security: [{ bearerAuth: [] }],
          params: Type.Object({ id: RequestId }),
          body: Type.Object(
            {
              reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why, for the audit trail' }),
            },
            { additionalProperties: false },
          ),
          response: {
            202: RequestView,
            ...authProblems,
            403: problemRef,
            404: problemRef,
            409: problemRef,
            422: problemRef,
          },
        },
      },
      async (request, reply) => {
        const user = request.principal;
        const row = await visibleRequest(db, user, request.params.id);
        if (!user.isOperator) throw forbidden('Only an operator may decide on a failed deployment.');
        const after = await decideDeployment(deps, row, { action, by: user.id, reason: request.body.reason });
        request.log.info({ requestId: row.id, by: user.id, action }, 'deployment decision sent');
        return reply.code(202).send(toView(config, after));
      },
    );
  decisionRoute(
    '/:id/retry',
    'retry',
    'Retry a failed software deployment (operator)',
    'Starts a new round of deployment attempts on the device (attempt numbers go on); the seat and the change stay with the request.',
  );
  decisionRoute(
    '/:id/give-up',
    'give_up',
    'Give up a failed software deployment (operator)',
    'Ends the request as failed with the reason given; the seat is released and the change closed as failed.',
  );

  app.post(
    '/:id/answer-feedback',
    {
      schema: {
        tags: ['requests'],
        summary: 'Information requests: tell whether the knowledge answer helped',
        description:
          '"helpful": false hands the question to the service desk, whose written answer is sent back to you.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: RequestId }),
        body: Type.Object(
          { helpful: Type.Boolean(), comment: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: { 200: RequestView, ...authProblems, 403: problemRef, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const user = request.principal;
      const row = await visibleRequest(db, user, request.params.id);
      if (row.requesterId !== user.id)
        throw forbidden('Only the requester can say whether the answer helped.');
      if (row.type !== 'information') throw conflict(`Request ${row.id} is not an information request.`);
      try {
        await deps.temporal.workflow.getHandle(row.id).executeUpdate(answerFeedbackUpdate, {
          args: [
            {
              helpful: request.body.helpful,
              from: user.id,
              ...(request.body.comment ? { comment: request.body.comment } : {}),
            },
          ],
        });
      } catch (err) {
        const over = () => conflict(`Request ${row.id} is no longer waiting for feedback on its answer.`);
        throw temporalProblem(err, { closed: over, otherwise: over });
      }
      return toView(config, await currentRequest(db, row.id));
    },
  );
};

export default requestsRoutes;
