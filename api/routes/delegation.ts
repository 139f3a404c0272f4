import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { delegate, endDelegation, findDelegation } from '../../approvals/delegations.js';
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
      const row = await findDelegation(db, request.principal.id);
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
      const { delegateId, until } = request.body;
      const result = await delegate(db, { userId: request.principal.id, delegateId, until: until ?? null });
      if ('refused' in result) throw unprocessable(result.refused);
      return result.delegation;
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
      await endDelegation(db, request.principal.id);
      return reply.code(204).send(null);
    },
  );
};

export default delegationRoutes;
