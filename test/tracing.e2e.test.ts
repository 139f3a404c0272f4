import { trace } from '@opentelemetry/api';
import { eq } from 'drizzle-orm';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { startTracing } from '../runtime/tracing.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// The real stack (worker, API, device agent) exporting to a real OTLP/HTTP receiver: the
// small server below takes what the exporters send (OTLP JSON) and keeps every span.

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpAnyValue }[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: { key: string; value: OtlpAnyValue }[];
      }[];
    }[];
  }[];
}

const value = (v: OtlpAnyValue) => v.stringValue ?? v.intValue ?? v.boolValue;
const attributeMap = (attrs: { key: string; value: OtlpAnyValue }[] = []) =>
  Object.fromEntries(attrs.map((a) => [a.key, value(a.value)]));

async function startReceiver(): Promise<{
  server: Server;
  url: string;
  spans: ReceivedSpan[];
  bodies: string[];
}> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const parsed = JSON.parse(body) as OtlpExport;
      for (const rs of parsed.resourceSpans ?? []) {
        const service = String(attributeMap(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              attributes: attributeMap(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, spans, bodies };
}

async function waitFor<T>(what: string, find: () => T | undefined, context: () => string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} did not arrive within 60 s\n${context()}`);
    await sleep(200);
  }
}

const visio = { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE', justification: 'Traced diagrams' };

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  let stack: TestStack | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack(inject('temporalAddress'), {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Batches leave every 200 ms rather than every 5 s: the test waits for them.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOG_LEVEL: 'info',
    });
    stack.startAgent('LAPTOP-ALICE');
  });
  afterAll(async () => {
    await stack?.stop();
    receiver?.server.close();
  });

  it('one trace links the HTTP POST, the workflow, its activities and the agent running the job', async () => {
    if (!stack || !receiver) throw new Error('the stack did not start');
    const { spans } = receiver;
    const alice = await stack.login('alice');
    const submitted = await stack.submit(alice, visio);
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('fulfilled');

    const dump = () =>
      `${spans.map((s) => `${s.service} ${s.traceId} ${s.spanId}<-${s.parentSpanId} ${s.name}`).join('\n')}\n` +
      `receiver saw: ${receiver?.bodies.slice(-5).join(', ')}`;
    const post = await waitFor(
      'the API span of POST /api/requests',
      () =>
        spans.find(
          (s) =>
            s.service === 'reqflow-api' &&
            s.attributes['http.request.method'] === 'POST' &&
            s.attributes['http.route'] === '/api/requests',
        ),
      dump,
    );
    const inTrace = (service: string, name: RegExp) =>
      spans.find((s) => s.traceId === post.traceId && s.service === service && name.test(s.name));
    const workflowRun = await waitFor(
      'the workflow run',
      () => inTrace('reqflow-worker', /^RunWorkflow:/),
      dump,
    );
    const queueing = await waitFor(
      'the queueDeployment activity',
      () => inTrace('reqflow-worker', /^RunActivity:queueDeployment$/),
      dump,
    );
    const agentRun = await waitFor(
      'the agent job span',
      () => inTrace('reqflow-agent', /^agent install$/),
      dump,
    );

    // Parent links, not only a shared id: the agent's span hangs under the activity that queued the job.
    expect(agentRun.parentSpanId).toBe(queueing.spanId);
    expect(agentRun.attributes['reqflow.request_id']).toBe(submitted.id);
    expect(agentRun.attributes['reqflow.outcome']).toBe('succeeded');
    expect(workflowRun.traceId).toBe(post.traceId);
    const spanIds = new Set(spans.filter((s) => s.traceId === post.traceId).map((s) => s.spanId));
    // Every span of the trace but the root names a parent that was exported too.
    for (const s of spans.filter((x) => x.traceId === post.traceId && x.parentSpanId !== '')) {
      expect(spanIds.has(s.parentSpanId), `${s.service} ${s.name} has an exported parent`).toBe(true);
    }

    const [job] = await stack.db
      .select()
      .from(t.deploymentJobs)
      .where(eq(t.deploymentJobs.requestId, submitted.id));
    expect(job?.traceParent).toBe(`00-${post.traceId}-${queueing.spanId}-01`);

    // The API's request log lines carry the ids.
    const logged = stack.output
      .filter((l) => l.startsWith('[api] {'))
      .map((l) => JSON.parse(l.slice('[api] '.length)) as Record<string, unknown>)
      .find((l) => l.msg === 'request completed' && l.trace_id === post.traceId);
    expect(logged, stack.output.slice(-30).join('\n')).toBeDefined();
    expect(logged?.span_id).toBe(post.spanId);
  }, 180_000);
});

describe('tracing without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('starts no SDK: no provider is registered and nothing is set up', async () => {
    expect(await startTracing('reqflow-api', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBeUndefined();
    const tracer = trace.getTracer('probe');
    const span = tracer.startSpan('probe');
    // The API's no-op span: not recording, and no trace id to export.
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.end();
  });

  describe('the stack', () => {
    let stack: TestStack | undefined;
    beforeAll(async () => {
      stack = await startStack(inject('temporalAddress'), { LOG_LEVEL: 'info' });
      stack.startAgent('LAPTOP-ALICE');
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('runs a request with no trace context on its job and no trace ids in the logs', async () => {
      if (!stack) throw new Error('the stack did not start');
      const alice = await stack.login('alice');
      const submitted = await stack.submit(alice, visio);
      expect((await stack.waitForRequest(alice, submitted.id, ended)).status).toBe('fulfilled');
      const jobs = await stack.db
        .select()
        .from(t.deploymentJobs)
        .where(eq(t.deploymentJobs.requestId, submitted.id));
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.map((j) => j.traceParent)).toEqual(jobs.map(() => null));
      const apiLines = stack.output.filter((l) => l.startsWith('[api] {'));
      expect(apiLines.some((l) => l.includes('"request completed"'))).toBe(true);
      expect(apiLines.filter((l) => l.includes('trace_id'))).toEqual([]);
    }, 120_000);
  });
});
