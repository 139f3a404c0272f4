import type { Tracing } from './tracing.js';

/**
 * Temporal's OpenTelemetry plugin over our tracer provider: client interceptors (the
 * workflow start, signals, updates and queries as spans whose context rides in the
 * headers), workflow interceptors in the bundle, activity interceptors, and the sink that
 * exports spans made inside the workflow sandbox. Loaded only when tracing is on.
 */
export async function temporalTracingPlugin(tracing: Tracing) {
  const { OpenTelemetryPlugin } = await import('@temporalio/interceptors-opentelemetry');
  return new OpenTelemetryPlugin({ resource: tracing.resource, spanProcessor: tracing.spanProcessor });
}
