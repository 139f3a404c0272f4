import rateLimit from '@fastify/rate-limit';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  preHandlerAsyncHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimits } from '../../runtime/config.js';
import { HttpProblem } from '../errors.js';

const WINDOW_MS = 60_000;

/** Probes must keep answering while a script floods from the same address (a NAT, a proxy). */
const UNLIMITED = new Set(['/health', '/ready']);

type Scope = 'ip' | 'user';
interface Tight {
  limit: keyof RateLimits;
  scope: Scope;
  what: string;
}

// The routes a flooding script aims at first: guessing at sign-in and links, filling the
// queue with requests or comments. Matched by method and full route path (without the
// trailing slash: a prefix's root route is registered with and without it).
const tight: Record<string, Tight> = {
  'POST /api/dev/login': { limit: 'login', scope: 'ip', what: 'sign-ins' },
  'POST /api/dev/session': { limit: 'login', scope: 'ip', what: 'sign-ins' },
  'GET /api/session/oidc/login': { limit: 'login', scope: 'ip', what: 'sign-ins' },
  'GET /api/session/oidc/callback': { limit: 'login', scope: 'ip', what: 'sign-ins' },
  'GET /approvals/links/:token': { limit: 'links', scope: 'ip', what: 'approve/deny link pages' },
  'POST /approvals/links/:token': { limit: 'links', scope: 'ip', what: 'approve/deny link pages' },
  'GET /surveys/:requestId': { limit: 'links', scope: 'ip', what: 'survey pages' },
  'POST /surveys/:requestId': { limit: 'links', scope: 'ip', what: 'survey pages' },
  'POST /api/requests': { limit: 'submit', scope: 'user', what: 'submitted requests' },
  'POST /api/requests/:id/comments': { limit: 'comments', scope: 'user', what: 'comments' },
  'POST /api/tasks/:id/comments': { limit: 'comments', scope: 'user', what: 'comments' },
};

const keyOf = (scope: Scope, request: FastifyRequest) =>
  scope === 'user' ? `user:${request.principal.id}` : `ip:${request.ip}`;

/**
 * Limits per client address on every route, per user on every authenticated route, and
 * tighter ones on sign-in, links, submission and comments. Over a limit the answer is a
 * 429 problem with Retry-After. One counter per minute and key, kept in memory: each API
 * process counts for itself.
 */
export default fp(
  async function rateLimits(app: FastifyInstance, opts: { limits: RateLimits }) {
    // global: false, because the plugin's own hooks skip every limiter after the first on a
    // request; the checks below call the limiters themselves.
    await app.register(rateLimit, { global: false, timeWindow: WINDOW_MS, cache: 10_000 });

    function limiter(max: number, scope: Scope, what: string) {
      const check = app.createRateLimit({
        max,
        timeWindow: WINDOW_MS,
        keyGenerator: (request) => keyOf(scope, request),
      });
      return async (request: FastifyRequest, reply: FastifyReply) => {
        const result = await check(request);
        if (result.isAllowed || !result.isExceeded) return;
        const retryAfter = Math.max(1, result.ttlInSeconds);
        reply.header('retry-after', String(retryAfter));
        throw new HttpProblem(
          429,
          'Too Many Requests',
          `Too many ${what} from ${scope === 'user' ? 'this user' : 'this address'}: the limit is ${max} ` +
            `a minute. Retry in ${retryAfter} s.`,
        );
      };
    }

    const { limits } = opts;
    const perIp = limits.perIp > 0 ? limiter(limits.perIp, 'ip', 'requests') : undefined;
    const perUser = limits.perUser > 0 ? limiter(limits.perUser, 'user', 'requests') : undefined;
    const tightChecks = new Map<string, (request: FastifyRequest, reply: FastifyReply) => Promise<void>>();
    for (const [route, t] of Object.entries(tight)) {
      const max = limits[t.limit];
      // One limiter per limit and scope, so GET and POST of a link page share a counter.
      const shared = `${t.limit}:${t.scope}`;
      if (max > 0 && !tightChecks.has(shared)) tightChecks.set(shared, limiter(max, t.scope, t.what));
      const check = tightChecks.get(shared);
      if (check) tightChecks.set(route, check);
    }

    if (perIp) {
      app.addHook('onRequest', async (request, reply) => {
        if (UNLIMITED.has(request.url.split('?')[0] ?? '')) return;
        await perIp(request, reply);
      });
    }

    app.addHook('onRoute', (route: RouteOptions) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const url = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url;
      const checks = methods.map((m) => tightChecks.get(`${m} ${url}`)).filter((c) => c !== undefined);
      const scope = methods.map((m) => tight[`${m} ${url}`]?.scope).find(Boolean);
      // Route-level hooks run after the plugin's own, so a user's check sees who authenticated.
      const preHandler: preHandlerAsyncHookHandler[] = [];
      if (perUser) {
        preHandler.push(async function perUserLimit(request, reply) {
          if (request.principal) await perUser(request, reply);
        });
      }
      const own = checks[0];
      if (own && scope === 'user') {
        preHandler.push(async function tightUserLimit(request, reply) {
          if (request.principal) await own(request, reply);
        });
      }
      if (own && scope === 'ip') {
        route.onRequest = [...toArray(route.onRequest), own satisfies onRequestAsyncHookHandler];
      }
      if (preHandler.length) route.preHandler = [...toArray(route.preHandler), ...preHandler];
    });
  },
  { name: 'rate-limits', dependencies: ['problems'] },
);

function toArray<T>(hooks: T | T[] | undefined): T[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}
