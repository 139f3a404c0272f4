import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { execute, type DB } from '../../db/client.js';
import { unavailable } from '../errors.js';
import { problemRef } from '../schemas/common.js';

const healthRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client }> = async (
  app,
  { db, temporal },
) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: the database and Temporal answer',
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            database: Type.String(),
            temporal: Type.String(),
          }),
          503: problemRef,
        },
      },
    },
    async () => {
      try {
        await execute(db, sql`select 1`);
      } catch (err) {
        throw unavailable(`Database not ready: ${String(err)}`);
      }
      try {
        // Bounded, so a load balancer's probe is answered even when Temporal hangs.
        await temporal.withDeadline(Date.now() + 2000, () => temporal.workflowService.getSystemInfo({}));
      } catch (err) {
        throw unavailable(`Temporal not reachable: ${String(err)}`);
      }
      return { status: 'ready' as const, database: 'ok', temporal: 'ok' };
    },
  );
};

export default healthRoutes;
