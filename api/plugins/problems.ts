import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import { HttpProblem } from '../errors.js';
import { Problem } from '../schemas/common.js';

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  detail: string,
  extra: object = {},
) {
  const title = STATUS_CODES[status] ?? 'Error';
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: 'about:blank',
      title,
      status,
      detail,
      instance: request.url,
      ...extra,
    });
}

/**
 * One error handler that speaks RFC 9457 problem+json. Client errors say what was
 * wrong; server errors are logged in full and masked, so no stack or SQL leaks.
 */
export default fp(
  async function problems(app: FastifyInstance) {
    app.addSchema(Problem);

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof HttpProblem) {
        return send(
          reply,
          request,
          error.statusCode,
          error.message,
          error.errors ? { errors: error.errors } : {},
        );
      }
      if (error.validation) {
        const raw = error.validation.map((v) => ({
          path: `${error.validationContext ?? 'body'}${v.instancePath || ''}`,
          message: v.message ?? 'is invalid',
        }));
        // TypeBox reports an unexpected property twice, as "schema is false" at the
        // property and "must not have additional properties" at its parent: keep one, plainly.
        const unknown = raw.some((e) => e.message === 'schema is false');
        const errors = raw
          .filter((e) => !(unknown && e.message === 'must not have additional properties'))
          .map((e) => (e.message === 'schema is false' ? { ...e, message: 'is not a known property' } : e));
        const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        return send(reply, request, 400, `Invalid request: ${detail}`, { errors });
      }
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        // Fastify's own client errors: malformed JSON, body too large, wrong content type...
        return send(reply, request, status, error.message);
      }
      request.log.error({ err: error }, 'request failed');
      return send(reply, request, status, 'Something went wrong on our side; the error was logged.');
    });

    app.setNotFoundHandler((request, reply) =>
      send(reply, request, 404, `No route ${request.method} ${request.url.split('?')[0]}.`),
    );
  },
  { name: 'problems' },
);
