import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DB } from '../../db/client.js';
import { fulfillmentMetrics } from '../../metrics/fulfillment.js';
import { forbidden, unprocessable } from '../errors.js';
import { authProblems, problemRef } from '../schemas/common.js';
import { FulfillmentMetrics, MetricsQuery } from '../schemas/metrics.js';

const DAY = 86_400_000;

/** Continual improvement: how long requests take and where the time goes (operators). */
const metricsRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.get(
    '/fulfillment',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['metrics'],
        summary: 'Fulfillment time per type or catalog item and per step, automation rate, SLA, survey score',
        security: [{ bearerAuth: [] }],
        querystring: MetricsQuery,
        response: { 200: FulfillmentMetrics, ...authProblems, 403: problemRef, 422: problemRef },
      },
    },
    async (request) => {
      if (!request.principal.isOperator) throw forbidden('Fulfillment metrics are for operators.');
      const to = new Date(request.query.to ?? Date.now()).toISOString();
      const from = new Date(request.query.from ?? Date.parse(to) - 30 * DAY).toISOString();
      if (from >= to) throw unprocessable('"from" must be before "to".');
      const groupBy = request.query.groupBy ?? 'type';
      return { from, to, groupBy, groups: fulfillmentMetrics(db, { from, to, groupBy }) };
    },
  );
};

export default metricsRoutes;
