import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { unprocessable } from '../errors.js';
import { loadPrincipal } from '../plugins/auth.js';
import { problemRef } from '../schemas/common.js';

/** Registered only in the embedded default (dev mode): log in as a seeded user without a password. */
const devRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.post(
    '/login',
    {
      schema: {
        tags: ['dev'],
        summary: 'Dev mode only: a token for a seeded user',
        body: Type.Object(
          { userId: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            user: Type.Object({ id: Type.String(), name: Type.String() }),
          }),
          400: problemRef,
          422: problemRef,
        },
      },
    },
    async (request) => {
      const user = loadPrincipal(db, request.body.userId);
      if (!user) throw unprocessable(`Unknown or inactive user "${request.body.userId}".`);
      return { token: app.issueUserToken(user.id), user: { id: user.id, name: user.name } };
    },
  );
};

export default devRoutes;
