import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { readSurvey, saveSurveyAnswer } from '../../surveys/index.js';
import { conflict, forbidden } from '../errors.js';
import type { UserPrincipal } from '../plugins/auth.js';
import { visibleRequest } from '../request-access.js';
import { authProblems, problemRef } from '../schemas/common.js';
import { RequestId } from '../schemas/requests.js';
import { SurveyAnswerBody, SurveyView } from '../schemas/surveys.js';

/** The satisfaction survey of a fulfilled request, answered by its requester (ITIL: continual improvement). */
const surveyRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.addHook('preHandler', app.authenticate);
  const base = { tags: ['requests'], security: [{ bearerAuth: [] }] };
  const params = Type.Object({ id: RequestId });

  /** The request, if the caller is its requester: 404 to those who cannot see it, 403 to other viewers. */
  async function requestOf(user: UserPrincipal, id: string) {
    const row = await visibleRequest(db, user, id);
    if (row.requesterId !== user.id) throw forbidden('Only the requester answers the satisfaction survey.');
    return row;
  }

  app.get(
    '/:id/survey',
    {
      schema: {
        ...base,
        summary: "The requester's satisfaction answer for a request",
        params,
        response: { 200: SurveyView, ...authProblems, 403: problemRef, 404: problemRef },
      },
    },
    async (request) => readSurvey(db, (await requestOf(request.principal, request.params.id)).id),
  );

  app.put(
    '/:id/survey',
    {
      schema: {
        ...base,
        summary: 'Answer the satisfaction survey of a fulfilled request (again: replaces the answer)',
        params,
        body: SurveyAnswerBody,
        response: { 200: SurveyView, ...authProblems, 403: problemRef, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const user = request.principal;
      const row = await requestOf(user, request.params.id);
      if (row.status !== 'fulfilled')
        throw conflict(`Request ${row.id} is ${row.status}; the survey opens once it is fulfilled.`);
      return saveSurveyAnswer(db, row.id, user.id, request.body);
    },
  );
};

export default surveyRoutes;
