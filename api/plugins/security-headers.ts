import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Helmet's security headers on every response. The CSP fits the HTML pages (approve/deny
 * links, surveys): no scripts, inline styles only, forms post back to this origin, never
 * framed. Swagger UI under /docs sets its own CSP. No upgrade-insecure-requests: the
 * embedded default serves plain http on loopback, and the pages' forms must still post there.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance) {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          imgSrc: ["'self'", 'data:'],
          styleSrc: ["'unsafe-inline'"],
        },
      },
      // Links and survey pages carry tokens in their URL: no Referer may leak them.
      referrerPolicy: { policy: 'no-referrer' },
    });
  },
  { name: 'security-headers' },
);
