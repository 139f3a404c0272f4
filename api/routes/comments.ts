import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { createNotifications } from '../../notifications/outbox.js';
import type { Config } from '../../runtime/config.js';
import { notFound } from '../errors.js';
import type { UserPrincipal } from '../plugins/auth.js';
import { visibleRequest } from '../request-access.js';
import { commentOnRequest, listRequestComments, type RequestCommentRow } from '../../requests/comments.js';
import { findRequestWithItem } from '../../requests/index.js';
import { CreateCommentBody, RequestComment, RequestCommentList } from '../schemas/comments.js';
import { authProblems, pageQuery, problemRef } from '../schemas/common.js';
import { RequestId } from '../schemas/requests.js';

const view = (c: RequestCommentRow): RequestComment => ({
  id: c.id,
  author: c.authorId,
  body: c.body,
  createdAt: c.createdAt,
});

/**
 * The conversation on a request. Whoever may see the request may read and write it;
 * a comment is queued as a notification to the requester and beneficiary (not its author).
 */
const commentRoutes: FastifyPluginAsyncTypebox<{ db: DB; config: Pick<Config, 'publicUrl'> }> = async (
  app,
  { db, config },
) => {
  app.addHook('preHandler', app.authenticate);
  const base = { tags: ['requests'], security: [{ bearerAuth: [] }] };
  const params = Type.Object({ id: RequestId });
  const notifications = createNotifications({ db, publicUrl: config.publicUrl });

  /** The request and its item's name, if the caller may see it (404 otherwise, like GET /api/requests/:id). */
  async function commentedRequest(user: UserPrincipal, id: string) {
    const req = await visibleRequest(db, user, id);
    const row = await findRequestWithItem(db, req.id);
    if (!row) throw notFound(`Request ${id} not found.`);
    return row;
  }

  app.get(
    '/:id/comments',
    {
      schema: {
        ...base,
        summary: 'The comments on a request, oldest first',
        params,
        querystring: Type.Object(pageQuery(100, 500), { additionalProperties: false }),
        response: { 200: RequestCommentList, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { req } = await commentedRequest(request.principal, request.params.id);
      const { limit = 100, offset = 0 } = request.query;
      const items = await listRequestComments(db, req.id, { limit, offset });
      return { items: items.map(view) };
    },
  );

  app.post(
    '/:id/comments',
    {
      schema: {
        ...base,
        summary: 'Comment on a request; its requester and beneficiary are notified',
        params,
        body: CreateCommentBody,
        response: { 201: RequestComment, ...authProblems, 404: problemRef },
      },
    },
    async (request, reply) => {
      const user = request.principal;
      const { req, itemName } = await commentedRequest(user, request.params.id);
      const comment = await commentOnRequest(
        { db, notifications },
        { request: req, itemName, author: user, body: request.body.body },
      );
      return reply.code(201).send(view(comment));
    },
  );
};

export default commentRoutes;
