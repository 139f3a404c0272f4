import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { createPrometheusMetrics } from '../../metrics/prometheus.js';
import { HttpProblem } from '../errors.js';
import { problemRef } from '../schemas/common.js';

export interface PrometheusOptions {
  db: DB;
  /** When set, a scrape must send `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token?: string | undefined;
  /** Under `npm start`: where its supervisor keeps the restart counts. */
  stackStateFile?: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` in the Prometheus text format, and API latency for every route.
 * A fastify-plugin (not encapsulated), so the onResponse hook sees every route of
 * the app. The series are aggregate counts with no personal data, so the endpoint is
 * open like /health unless a token is configured.
 */
const prometheus: FastifyPluginAsyncTypebox<PrometheusOptions> = async (
  app,
  { db, token, stackStateFile },
) => {
  const { registry, httpRequestDuration } = createPrometheusMetrics({ db, stackStateFile });

  app.addHook('onResponse', async (request, reply) => {
    httpRequestDuration.observe(
      {
        method: request.method,
        // The pattern, never the URL: ids in paths would make a series per request.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  // Compared as digests so the check takes the same time whatever the length sent.
  const expected = token ? digest(token) : undefined;
  const checkToken = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return;
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (match?.[1] && timingSafeEqual(digest(match[1]), expected)) return;
    reply.header('www-authenticate', 'Bearer realm="metrics"');
    throw new HttpProblem(401, 'Unauthorized', 'Send "Authorization: Bearer <METRICS_TOKEN>".');
  };

  app.get(
    '/metrics',
    {
      onRequest: checkToken,
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text format); needs a bearer token when METRICS_TOKEN is set',
        response: {
          200: { content: { 'text/plain': { schema: Type.String() } } },
          401: problemRef,
        },
      },
    },
    async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
};

export default fp(prometheus, { name: 'prometheus', dependencies: ['problems'] });
