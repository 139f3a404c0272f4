import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { forbidden, unprocessable } from '../errors.js';
import { setSessionCookie } from '../session-cookie.js';
import { listActivePeople } from '../../directory/people.js';
import { loadPrincipal } from '../../directory/sign-in.js';
import { listOutbox } from '../../notifications/outbox.js';
import { authProblems, problemRef } from '../schemas/common.js';
import { RequestId } from '../schemas/requests.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const OutboxQuery = Type.Object(
  {
    recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'User id' })),
    requestId: Type.Optional(RequestId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);

const OutboxItem = Type.Object({
  id: Type.Integer(),
  key: Type.String({ description: 'Idempotency key (request id and step)' }),
  requestId: Nullable(Type.String()),
  recipient: Type.String({ description: 'User id' }),
  subject: Type.String(),
  body: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed')]),
  attempts: Type.Integer({ minimum: 0 }),
  lastError: Nullable(Type.String({ description: 'What went wrong on the latest failed attempt' })),
  createdAt: Type.String({ description: 'ISO-8601 UTC' }),
  sentAt: Nullable(Type.String({ description: 'ISO-8601 UTC' })),
});

/**
 * Registered only in dev mode on loopback (the embedded default): log in as a seeded
 * user without a password, and read the notifications outbox without a mail server.
 */
const devRoutes: FastifyPluginAsyncTypebox<{ db: DB; cookieSecure: boolean }> = async (
  app,
  { db, cookieSecure },
) => {
  const LoginBody = Type.Object(
    { userId: Type.String({ minLength: 1, maxLength: 100 }) },
    { additionalProperties: false },
  );
  const SignedIn = Type.Object({ id: Type.String(), name: Type.String() });

  app.get(
    '/people',
    {
      schema: {
        tags: ['dev'],
        summary: "Dev mode only: the people one may sign in as (the portal's sign-in page lists them)",
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() })),
          }),
        },
      },
    },
    async () => ({ items: await listActivePeople(db) }),
  );

  app.post(
    '/session',
    {
      schema: {
        tags: ['dev'],
        summary: "Dev mode only: sign a seeded user in to the portal (sets the portal's session cookie)",
        body: LoginBody,
        response: { 200: Type.Object({ user: SignedIn }), 400: problemRef, 422: problemRef },
      },
    },
    async (request, reply) => {
      const user = await loadPrincipal(db, request.body.userId);
      if (!user) throw unprocessable(`Unknown or inactive user "${request.body.userId}".`);
      setSessionCookie(reply, app.issueUserToken(user.id), cookieSecure);
      return { user: { id: user.id, name: user.name } };
    },
  );

  app.post(
    '/login',
    {
      schema: {
        tags: ['dev'],
        summary: 'Dev mode only: a token for a seeded user',
        body: LoginBody,
        response: {
          200: Type.Object({ token: Type.String(), user: SignedIn }),
          400: problemRef,
          422: problemRef,
        },
      },
    },
    async (request) => {
      const user = await loadPrincipal(db, request.body.userId);
      if (!user) throw unprocessable(`Unknown or inactive user "${request.body.userId}".`);
      return { token: app.issueUserToken(user.id), user: { id: user.id, name: user.name } };
    },
  );

  app.get(
    '/outbox',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['dev'],
        summary: 'Dev mode only: the notifications outbox, newest first (own notifications; operators: all)',
        security: [{ bearerAuth: [] }],
        querystring: OutboxQuery,
        response: { 200: Type.Object({ items: Type.Array(OutboxItem) }), ...authProblems, 403: problemRef },
      },
    },
    async (request) => {
      const { principal } = request;
      const { requestId, limit = 50 } = request.query;
      // Approve/deny links in the messages are bearer credentials: people see only their own.
      if (!principal.isOperator && request.query.recipient && request.query.recipient !== principal.id) {
        throw forbidden('Only operators may read notifications sent to someone else.');
      }
      const recipient = principal.isOperator ? request.query.recipient : principal.id;
      const items = await listOutbox(db, { recipient, requestId, limit });
      return { items };
    },
  );
};

export default devRoutes;
