import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DB } from '../../db/client.js';
import { fulfillmentMetrics, monthRange } from '../../metrics/fulfillment.js';
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
        summary:
          'Fulfillment time per type or catalog item, per phase and per step, automation rate, SLA, survey score',
        description:
          'Time figures are over the requests fulfilled in [from, to) (or the UTC calendar month `month`); ' +
          '`submitted` counts those created in it; survey answers count when given before `to`. ' +
          'A period that is over always gives the same figures.',
        security: [{ bearerAuth: [] }],
        querystring: MetricsQuery,
        response: { 200: FulfillmentMetrics, ...authProblems, 403: problemRef, 422: problemRef },
      },
    },
    async (request) => {
      if (!request.principal.isOperator) throw forbidden('Fulfillment metrics are for operators.');
      const { month } = request.query;
      if (month !== undefined && (request.query.from !== undefined || request.query.to !== undefined))
        throw unprocessable('Give either "month" or "from"/"to", not both.');
      const period = month === undefined ? undefined : monthRange(month);
      const to = period?.to ?? new Date(request.query.to ?? Date.now()).toISOString();
      const from = period?.from ?? new Date(request.query.from ?? Date.parse(to) - 30 * DAY).toISOString();
      if (from >= to) throw unprocessable('"from" must be before "to".');
      const groupBy = request.query.groupBy ?? 'type';
      return { from, to, groupBy, groups: await fulfillmentMetrics(db, { from, to, groupBy }) };
    },
  );
};

export default metricsRoutes;
