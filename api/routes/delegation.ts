import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { and, eq } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { notFound, unprocessable } from '../errors.js';
import { Delegation, DelegationBody } from '../schemas/approvals.js';
import { authProblems, problemRef } from '../schemas/common.js';

/** An approver who is away names a delegate who may decide for them until they are back. */
const delegationRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.addHook('preHandler', app.authenticate);
  const schemaBase = { tags: ['approvals'], security: [{ bearerAuth: [] }] };

  app.get(
    '/',
    {
      schema: {
        ...schemaBase,
        summary: 'My delegation, if any',
        response: { 200: Delegation, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const row = db.select().from(t.delegations).where(eq(t.delegations.userId, request.principal.id)).get();
      if (!row) throw notFound('You have no delegation.');
      return { userId: row.userId, delegateId: row.delegateId, until: row.until };
    },
  );

  app.put(
    '/',
    {
      schema: {
        ...schemaBase,
        summary: 'Name a delegate who may decide my approvals (optionally until a date)',
        body: DelegationBody,
        response: { 200: Delegation, ...authProblems, 422: problemRef },
      },
    },
    async (request) => {
      const me = request.principal.id;
      const { delegateId, until } = request.body;
      if (delegateId === me) throw unprocessable('You cannot delegate to yourself.');
      const delegate = db
        .select({ id: t.users.id })
        .from(t.users)
        .where(and(eq(t.users.id, delegateId), eq(t.users.active, true)))
        .get();
      if (!delegate) throw unprocessable(`Unknown or inactive user "${delegateId}".`);
      if (until && Date.parse(until) <= Date.now()) throw unprocessable('"until" must be in the future.');
      const values = { userId: me, delegateId, until: until ?? null };
      db.insert(t.delegations)
        .values(values)
        .onConflictDoUpdate({ target: t.delegations.userId, set: { delegateId, until: until ?? null } })
        .run();
      return values;
    },
  );

  app.delete(
    '/',
    {
      schema: {
        ...schemaBase,
        summary: 'End my delegation',
        response: { 204: Type.Null(), ...authProblems },
      },
    },
    async (request, reply) => {
      db.delete(t.delegations).where(eq(t.delegations.userId, request.principal.id)).run();
      return reply.code(204).send(null);
    },
  );
};

export default delegationRoutes;
