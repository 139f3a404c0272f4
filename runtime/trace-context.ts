/**
 * The W3C trace context that travels with a device job from the activity that queues it to
 * the agent that runs it. Through `@opentelemetry/api` only: without a registered tracer
 * provider (tracing off) there is no active span, so nothing is captured and nothing is
 * started.
 */
import { context, propagation, trace, type Span } from '@opentelemetry/api';

/** The active span as a `traceparent` header value, or undefined when no span is active. */
export function currentTraceparent(): string | undefined {
  if (!trace.getActiveSpan()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * Runs `fn` in a span named `name`, a child of the span `traceparent` names (a new trace
 * when it is absent), and ends the span when `fn` settles.
 */
export async function inSpanOf<T>(
  traceparent: string | undefined,
  tracerName: string,
  name: string,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
  return trace.getTracer(tracerName).startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
}

/** The ids a log line carries while a span is active (`trace_id`, `span_id`), else none. */
export function traceLogFields(span: Span | undefined = trace.getActiveSpan()): Record<string, string> {
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
