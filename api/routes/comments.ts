import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { asc, eq } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { createNotifications } from '../../notifications/outbox.js';
import type { Config } from '../../runtime/config.js';
import { notFound } from '../errors.js';
import type { UserPrincipal } from '../plugins/auth.js';
import { visibleRequest } from '../request-access.js';
import { findRequestWithItem } from '../../requests/index.js';
import { CreateCommentBody, RequestComment, RequestCommentList } from '../schemas/comments.js';
import { authProblems, pageQuery, problemRef } from '../schemas/common.js';
import { RequestId } from '../schemas/requests.js';

type CommentRow = typeof t.requestComments.$inferSelect;

const view = (c: CommentRow): RequestComment => ({
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
      const items = db
        .select()
        .from(t.requestComments)
        .where(eq(t.requestComments.requestId, req.id))
        .orderBy(asc(t.requestComments.id))
        .limit(limit)
        .offset(offset)
        .all();
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
      const recipients = [...new Set([req.requesterId, req.beneficiaryId])].filter((id) => id !== user.id);
      // The comment and its notifications commit together: no comment goes unannounced.
      const comment = db.transaction((tx) => {
        const row = tx
          .insert(t.requestComments)
          .values({ requestId: req.id, authorId: user.id, body: request.body.body })
          .returning()
          .get();
        for (const recipient of recipients) {
          notifications.notifyIn(tx, {
            key: `${req.id}:comment:${row.id}:${recipient}`,
            requestId: req.id,
            recipient,
            subject: `New comment on ${req.id} (${itemName})`,
            body: `${user.name} wrote:\n\n${row.body}`,
            links: { request: `/api/requests/${req.id}` },
          });
        }
        return row;
      });
      return reply.code(201).send(view(comment));
    },
  );
};

export default commentRoutes;
