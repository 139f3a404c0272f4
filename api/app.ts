import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import type { Socket } from 'node:net';
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { DB } from '../db/client.js';
import type { Config } from '../runtime/config.js';
import { redactUrl } from '../runtime/redact.js';
import { devLoginAllowed } from '../runtime/startup-checks.js';
import { completeResponses } from './openapi.js';
import { validatorCompiler } from './validation.js';
import auth from './plugins/auth.js';
import loadShedding from './plugins/load-shedding.js';
import methodNotAllowed from './plugins/method-not-allowed.js';
import drain from './plugins/drain.js';
import problems from './plugins/problems.js';
import prometheus from './plugins/prometheus.js';
import rateLimits from './plugins/rate-limits.js';
import securityHeaders from './plugins/security-headers.js';
import tracing, { type TracingOptions } from './plugins/tracing.js';
import formbody from '@fastify/formbody';
import agentRoutes from './routes/agent.js';
import commentRoutes from './routes/comments.js';
import surveyPageRoutes from './routes/survey-page.js';
import surveyRoutes from './routes/surveys.js';
import accessGrantRoutes from './routes/access-grants.js';
import accessReviewRoutes from './routes/access-reviews.js';
import auditRoutes from './routes/audit.js';
import approvalLinkRoutes from './routes/approval-links.js';
import approvalsRoutes from './routes/approvals.js';
import catalogRoutes from './routes/catalog.js';
import cmdbRoutes from './routes/cmdb.js';
import delegationRoutes from './routes/delegation.js';
import devRoutes from './routes/dev.js';
import devicesRoutes from './routes/devices.js';
import healthRoutes from './routes/health.js';
import knowledgeRoutes from './routes/knowledge.js';
import metricsRoutes from './routes/metrics.js';
import reportsRoutes from './routes/reports.js';
import requestsRoutes from './routes/requests.js';
import scimRoutes from './routes/scim.js';
import sessionRoutes from './routes/session.js';
import peopleRoutes from './routes/people.js';
import portal from './plugins/portal.js';
import { cookieIsSecure, SESSION_COOKIE } from './session-cookie.js';
import tasksRoutes from './routes/tasks.js';

export interface AppDeps {
  db: DB;
  temporal: Client;
  config: Config;
  /** The keys of user tokens and links derive from it; server.ts reads it from REQFLOW_SECRET or DATA_DIR in dev mode. */
  secret: string;
  logger?: FastifyServerOptions['logger'];
  /** Set by server.ts when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT); absent, no span is made. */
  tracing?: TracingOptions['instrumentation'];
}

/**
 * The request log names each request's route, never the link or survey token in its URL
 * (those are bearer credentials). Applies to logger options; a ready-made logger is the
 * caller's to configure.
 */
function redactingLogger(logger: AppDeps['logger']): AppDeps['logger'] {
  if (!logger) return false;
  const options = logger === true ? {} : logger;
  if ('child' in options && typeof options.child === 'function') return logger;
  return {
    ...options,
    serializers: {
      ...('serializers' in options ? options.serializers : {}),
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy(err);
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({
    type: 'about:blank',
    title: tooLarge ? 'Request Header Fields Too Large' : 'Bad Request',
    status,
    detail: tooLarge
      ? 'The request line or headers are larger than the API accepts; send a shorter URL or fewer headers.'
      : 'The request is not valid HTTP.',
  });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** Builds the API from its dependencies; server.ts owns the process (listen, logging, shutdown). */
export async function buildApp(deps: AppDeps) {
  const { db, temporal, config } = deps;
  const app = Fastify({
    logger: redactingLogger(deps.logger),
    // Requests are small JSON documents; anything larger is a mistake or an attack.
    bodyLimit: 64 * 1024,
    // Long polls end on close instead of holding shutdown for their full wait.
    forceCloseConnections: 'idle',
    // While closing, the drain plugin answers new requests with a 503 problem+json instead.
    return503OnClosing: false,
    // Approve/deny link tokens travel in the path and run to a few hundred characters; the limit
    // leaves room for the longest token the schema allows, percent-encoded, so an overlong one is
    // a 400 from validation rather than a 414 from the router.
    routerOptions: { maxParamLength: 16_384 },
    // Node refuses a request line or headers over its limit (431) before any route runs; say so
    // in the API's error format, as the OpenAPI document promises, instead of Fastify's own JSON.
    clientErrorHandler: answerClientError,
    // Behind a reverse proxy, the client's address (rate limits count per address) comes from it.
    trustProxy: config.trustProxy,
  })
    .withTypeProvider<TypeBoxTypeProvider>()
    // TypeBox's own checker: no type coercion and no silent removal of unknown
    // properties in bodies, so `{"deviceId": 42}` or an unexpected field is a 400.
    .setValidatorCompiler(validatorCompiler);

  // First: every later hook and route runs inside the request's span.
  if (deps.tracing) await app.register(tracing, { instrumentation: deps.tracing });
  await app.register(problems);
  // Before anything else answers: a request shed for load or over a limit costs almost nothing.
  await app.register(loadShedding, { maxEventLoopDelayMs: config.maxEventLoopDelayMs });
  // Before any route: it counts the running handlers of every route registered after it.
  await app.register(drain);
  await app.register(securityHeaders);
  await app.register(rateLimits, { limits: config.rateLimits });
  await app.register(methodNotAllowed);
  await app.register(swagger, {
    transformObject: (doc) =>
      completeResponses('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject),
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
            bearerFormat: 'JWT',
            description:
              "An access token (JWT) from the organisation's OpenID provider, for this API's audience " +
              '(OIDC_ISSUER, OIDC_AUDIENCE; the person is matched by OIDC_USERNAME_CLAIM, default ' +
              'preferred_username, to a directory user). In dev mode on loopback, POST /api/dev/login ' +
              'returns a token of the API itself.',
          },
          sessionCookie: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description:
              "The portal's session (HttpOnly, SameSite=Lax), set by its sign-in; every route that takes a " +
              'bearer token takes it too when no Authorization header is sent. A change (POST, PUT, ' +
              'PATCH, DELETE) made with it must carry the header x-reqflow-csrf: 1.',
          },
          deviceToken: { type: 'http', scheme: 'bearer', description: 'Device agent token' },
          enrollmentToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'Single-use enrollment token (POST /api/devices/enrollments)',
          },
          scimToken: {
            type: 'http',
            scheme: 'bearer',
            description: "The identity provider's provisioning token (SCIM_TOKEN)",
          },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Its own CSP (scripts and styles from /docs) instead of the pages' script-free one.
    staticCSP: true,
    transformStaticCSP: (csp) => csp.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
  await app.register(auth, { db, secret: deps.secret, oidc: config.oidc });
  await app.register(prometheus, {
    db,
    token: config.metricsToken,
    stackStateFile: config.stackStateFile,
  });

  await app.register(healthRoutes, { db, temporal });
  // Password-less login: never where another machine could reach it, whatever else is configured.
  if (devLoginAllowed(config))
    await app.register(devRoutes, {
      prefix: '/api/dev',
      db,
      cookieSecure: cookieIsSecure(config.publicUrl),
    });
  await app.register(sessionRoutes, { prefix: '/api/session', db, config, secret: deps.secret });
  await app.register(peopleRoutes, { prefix: '/api/people', db });
  await app.register(catalogRoutes, { prefix: '/api/catalog', db, catalogDir: config.catalogDir });
  await app.register(requestsRoutes, { prefix: '/api/requests', db, temporal, config });
  await app.register(commentRoutes, { prefix: '/api/requests', db, config });
  await app.register(surveyRoutes, { prefix: '/api/requests', db });
  await app.register(agentRoutes, { prefix: '/api/agent', db, temporal, config });
  await app.register(devicesRoutes, { prefix: '/api/devices', db });
  await app.register(cmdbRoutes, { prefix: '/api/cmdb', db });
  await app.register(auditRoutes, { prefix: '/api/audit', db });
  await app.register(accessGrantRoutes, { prefix: '/api/access/grants', db, temporal, config });
  await app.register(accessReviewRoutes, { prefix: '/api/access/reviews', db, temporal, config });
  await app.register(approvalsRoutes, { prefix: '/api', db, temporal, config });
  await app.register(delegationRoutes, { prefix: '/api/delegation', db });
  await app.register(tasksRoutes, { prefix: '/api/tasks', db, temporal });
  await app.register(knowledgeRoutes, { prefix: '/api/knowledge', db });
  await app.register(metricsRoutes, { prefix: '/api/metrics', db });
  await app.register(reportsRoutes, { prefix: '/api/reports', db, temporal, config });
  // The identity provider's provisioning (SCIM 2.0); answers SCIM error messages, not problem+json.
  await app.register(scimRoutes, { prefix: '/scim/v2', db, temporal, config });
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
  // Last: its client routes must not shadow any of the API's.
  await app.register(portal, { root: config.portalDir });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
