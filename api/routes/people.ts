import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { findPersonName } from '../../directory/people.js';
import { notFound } from '../errors.js';
import { authProblems, problemRef } from '../schemas/common.js';

/**
 * A colleague's display name, so a portal can say "Awaiting approval by Erin Evans" where
 * the API says `erin`. Names are what a company directory shows every employee; nothing else
 * about the person is given.
 */
const peopleRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.get(
    '/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['people'],
        summary: "A person's display name",
        security: [{ bearerAuth: [] }, { sessionCookie: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: {
          200: Type.Object({ id: Type.String(), name: Type.String() }),
          ...authProblems,
          404: problemRef,
        },
      },
    },
    async (request) => {
      const person = await findPersonName(db, request.params.id);
      if (!person) throw notFound(`Nobody has the user id "${request.params.id}".`);
      return person;
    },
  );
};

export default peopleRoutes;
