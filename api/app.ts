import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { DB } from '../db/client.js';
import type { Config } from '../runtime/config.js';
import auth from './plugins/auth.js';
import drain from './plugins/drain.js';
import problems from './plugins/problems.js';
import prometheus from './plugins/prometheus.js';
import formbody from '@fastify/formbody';
import agentRoutes from './routes/agent.js';
import commentRoutes from './routes/comments.js';
import surveyPageRoutes from './routes/survey-page.js';
import surveyRoutes from './routes/surveys.js';
import auditRoutes from './routes/audit.js';
import approvalLinkRoutes from './routes/approval-links.js';
import approvalsRoutes from './routes/approvals.js';
import catalogRoutes from './routes/catalog.js';
import cmdbRoutes from './routes/cmdb.js';
import delegationRoutes from './routes/delegation.js';
import devRoutes from './routes/dev.js';
import healthRoutes from './routes/health.js';
import knowledgeRoutes from './routes/knowledge.js';
import metricsRoutes from './routes/metrics.js';
import reportsRoutes from './routes/reports.js';
import requestsRoutes from './routes/requests.js';
import tasksRoutes from './routes/tasks.js';

export interface AppDeps {
  db: DB;
  temporal: Client;
  config: Config;
  /** Signs user tokens. Required; server.ts reads it from REQFLOW_SECRET or DATA_DIR in dev mode. */
  secret: string;
  logger?: FastifyServerOptions['logger'];
}

/** Builds the API from its dependencies; server.ts owns the process (listen, logging, shutdown). */
export async function buildApp(deps: AppDeps) {
  const { db, temporal, config } = deps;
  const app = Fastify({
    logger: deps.logger ?? false,
    // Requests are small JSON documents; anything larger is a mistake or an attack.
    bodyLimit: 64 * 1024,
    // Long polls end on close instead of holding shutdown for their full wait.
    forceCloseConnections: 'idle',
    // While closing, the drain plugin answers new requests with a 503 problem+json instead.
    return503OnClosing: false,
    // Approve/deny link tokens travel in the path and run to a few hundred characters.
    routerOptions: { maxParamLength: 2048 },
  })
    .withTypeProvider<TypeBoxTypeProvider>()
    // TypeBox's own checker: no type coercion and no silent removal of unknown
    // properties in bodies, so `{"deviceId": 42}` or an unexpected field is a 400.
    .setValidatorCompiler(TypeBoxValidatorCompiler);

  await app.register(problems);
  // Before any route: it counts the running handlers of every route registered after it.
  await app.register(drain);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'reqflow API',
        version: '1',
        description:
          'Durable IT service-request fulfillment on Temporal. Errors are application/problem+json (RFC 9457).',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'User token (POST /api/dev/login in dev mode)',
          },
          deviceToken: { type: 'http', scheme: 'bearer', description: 'Device agent token' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(auth, { db, secret: deps.secret });
  await app.register(prometheus, {
    db,
    token: config.metricsToken,
    stackStateFile: config.stackStateFile,
  });

  await app.register(healthRoutes, { db, temporal });
  if (config.devMode) await app.register(devRoutes, { prefix: '/api/dev', db });
  await app.register(catalogRoutes, { prefix: '/api/catalog', db });
  await app.register(requestsRoutes, { prefix: '/api/requests', db, temporal, config });
  await app.register(commentRoutes, { prefix: '/api/requests', db, config });
  await app.register(surveyRoutes, { prefix: '/api/requests', db });
  await app.register(agentRoutes, { prefix: '/api/agent', db, temporal, config });
  await app.register(cmdbRoutes, { prefix: '/api/cmdb', db });
  await app.register(auditRoutes, { prefix: '/api/audit', db });
  await app.register(approvalsRoutes, { prefix: '/api', db, temporal, config });
  await app.register(delegationRoutes, { prefix: '/api/delegation', db });
  await app.register(tasksRoutes, { prefix: '/api/tasks', db, temporal });
  await app.register(knowledgeRoutes, { prefix: '/api/knowledge', db });
  await app.register(metricsRoutes, { prefix: '/api/metrics', db });
  await app.register(reportsRoutes, { prefix: '/api/reports', db, temporal, config });
  // The confirmation page posts an HTML form.
  await app.register(
    async (links) => {
      await links.register(formbody);
      await links.register(approvalLinkRoutes, { db, temporal, secret: deps.secret });
    },
    { prefix: '/approvals/links' },
  );
  // The survey page posts an HTML form too.
  await app.register(
    async (surveys) => {
      await surveys.register(formbody);
      await surveys.register(surveyPageRoutes, { db, secret: deps.secret });
    },
    { prefix: '/surveys' },
  );
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
