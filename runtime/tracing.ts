/**
 * OpenTelemetry tracing for the API, the worker and the device agent, on only when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Otherwise
 * nothing of the SDK is loaded: the modules below are imported on demand, and the
 * `@opentelemetry/api` calls elsewhere are no-ops without a registered provider.
 *
 * One trace runs from the HTTP request (the API's span) through the workflow start (the
 * Temporal client interceptor), the workflow's and activities' spans (the worker's
 * interceptors; workflow spans leave the sandbox through a sink) to the device agent, which
 * receives the W3C `traceparent` with its job.
 */
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Resource } from '@opentelemetry/resources';

export type ServiceName = 'reqflow-api' | 'reqflow-worker' | 'reqflow-agent';

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends what is buffered and stops; spans ended afterwards are dropped. */
  shutdown(): Promise<void>;
}

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** The OTLP protocols we ship an exporter for (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL). */
async function spanExporter(env: NodeJS.ProcessEnv) {
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf';
  // Both read the endpoint, headers, timeout and compression from the OTEL_EXPORTER_OTLP_* variables.
  if (protocol === 'http/protobuf') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter();
  }
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  throw new Error(
    `OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" is not supported: use http/protobuf (the default) or http/json.`,
  );
}

/**
 * Registers the process-wide tracer provider (W3C trace context propagation, async-hooks
 * context) when tracing is on; undefined when it is off. Call it before anything creates
 * spans: the Temporal client or worker, the Fastify app.
 */
export async function startTracing(
  serviceName: ServiceName,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing | undefined> {
  if (!tracingEnabled(env)) return undefined;
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our default name.
  const resource = resources.Resource.default()
    .merge(new resources.Resource({ 'service.name': serviceName }))
    .merge(resources.envDetectorSync.detect());
  // Batches by OTEL_BSP_SCHEDULE_DELAY (5 s by default) and OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
  const spanProcessor = new BatchSpanProcessor(await spanExporter(env));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  return { resource, spanProcessor, shutdown: () => provider.shutdown() };
}

const PROBE_PATH = /^\/(health|ready|metrics)(\?|$)/;

/** Fastify's instrumentation (`@fastify/otel`), for api/plugins/tracing.ts; loaded only when tracing is on. */
export async function fastifyInstrumentation() {
  const { FastifyOtelInstrumentation } = await import('@fastify/otel');
  // Probes and scrapes every few seconds would bury the requests people make.
  return new FastifyOtelInstrumentation({ ignorePaths: ({ url }) => PROBE_PATH.test(url) });
}
