import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The portal's pages. The API's pages (approve links, surveys) allow no script at all; the
 * portal runs its own bundle, and nothing else: no inline script, no other origin.
 */
const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/**
 * The single-page app's own paths: loaded directly (a bookmark, a link in a mail, a reload)
 * they get the app, which then routes. Any other unknown path stays a 404 problem+json.
 */
export const PORTAL_PAGES = [
  '/sign-in',
  '/catalog',
  '/catalog/:itemId',
  '/requests',
  '/requests/:requestId',
  '/approvals',
  '/reviews',
  '/access',
  '/tasks',
  '/dashboard',
];

/**
 * Serves the built portal (scripts/build-portal.ts) at `/`. Encapsulated (not fastify-plugin)
 * so its CSP hook applies to its own routes only. Without a build the API runs on, and says so.
 */
export default async function portal(app: FastifyInstance, opts: { root: string }) {
  if (!existsSync(join(opts.root, 'index.html'))) {
    app.log.warn(`no portal build in ${opts.root}: run "npm run build:portal" to serve the portal at /`);
    return;
  }
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', PORTAL_CSP);
    return payload;
  });
  await app.register(fastifyStatic, {
    root: opts.root,
    // Routes for the files of the build only; everything else falls through to the API's 404.
    wildcard: false,
    index: 'index.html',
    // Hashed file names under assets/ never change; index.html must be asked for again.
    setHeaders: (res, path) => {
      res.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
    schemaHide: true,
  });
  for (const page of PORTAL_PAGES) {
    app.get(page, { schema: { hide: true } }, (_request, reply) =>
      reply.header('cache-control', 'no-cache').sendFile('index.html'),
    );
  }
}
