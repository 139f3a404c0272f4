import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from '../errors.js';

/** A path parameter matches one segment, or what its own regular expression (`:id(^…$)`) allows. */
function paramPattern(part: string): string {
  const open = part.indexOf('(');
  return open < 0
    ? '[^/]+'
    : `(?:${part
        .slice(open + 1, -1)
        .replace(/^\^/, '')
        .replace(/\$$/, '')})`;
}

const pattern = (url: string) =>
  new RegExp(
    `^${url
      .replace(/\/+$/, '')
      .split('/')
      .map((part) =>
        part === '*'
          ? '.*'
          : part.startsWith(':')
            ? paramPattern(part)
            : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/')}/?$`,
  );

/**
 * A known path asked with a method it does not have answers 405 with `Allow` (RFC 9110
 * §15.5.6), not 404: the client got the method wrong, not the address. Decided before the
 * body is read, so a method the API never takes (QUERY, TRACE) costs nothing.
 */
export default fp(
  async function methodNotAllowed(app: FastifyInstance) {
    const routes: { re: RegExp; methods: Set<string> }[] = [];
    app.addHook('onRoute', (route: RouteOptions) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      routes.push({ re: pattern(route.url), methods: new Set(methods) });
    });
    app.addHook('onRequest', async (request, reply) => {
      if (!request.is404) return;
      const path = request.url.split('?')[0] ?? '';
      const allowed = new Set<string>();
      for (const r of routes) if (r.re.test(path)) for (const m of r.methods) allowed.add(m);
      if (allowed.size === 0 || allowed.has(request.method)) return;
      reply.header('allow', [...allowed].sort().join(', '));
      throw new HttpProblem(
        405,
        'Method Not Allowed',
        `${request.method} is not a method of ${path}; it takes ${[...allowed].sort().join(', ')}.`,
      );
    });
  },
  { name: 'method-not-allowed', dependencies: ['problems'] },
);
