import type { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { traceLogFields } from '../../runtime/trace-context.js';

export interface TracingOptions {
  /** Made by server.ts once the tracer provider is registered (runtime/tracing.ts). */
  instrumentation: FastifyOtelInstrumentation;
}

/**
 * A span per HTTP request (joining the caller's trace when it sends `traceparent`), with
 * the handler and hooks as child spans, so that the Temporal client's spans, and through
 * them the workflow's, hang under the request. The request's log lines carry the ids
 * (`trace_id`, `span_id`) to find its trace from a log line.
 */
async function tracing(app: FastifyInstance, { instrumentation }: TracingOptions) {
  await app.register(instrumentation.plugin());
  app.addHook('onRequest', async (request, reply) => {
    const fields = traceLogFields(request.opentelemetry().span ?? undefined);
    if (!fields.trace_id) return;
    request.log = request.log.child(fields);
    // The "request completed" line is the reply's.
    reply.log = request.log;
  });
}

export default fp(tracing, { name: 'tracing' });
