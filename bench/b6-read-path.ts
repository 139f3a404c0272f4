/**
 * B6: `GET /api/requests/:id` under autocannon against a bare Fastify route answering the same
 * body from a process of its own, both on this machine, one after the other.
 */
import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild } from './children.js';
import type { BenchContext } from './context.js';
import { freePort } from '../scripts/dev-server.js';

/** Connections autocannon keeps open: a busy portal's worth. */
const CONNECTIONS = 10;

export interface ReadRun {
  perSecond: number;
  p50: number;
  p99: number;
}

export interface ReadResult {
  reqflow: ReadRun;
  bare: ReadRun;
  /** reqflow's requests/s over the baseline's. */
  ratio: number;
}

async function cannon(url: string, seconds: number, headers: Record<string, string> = {}): Promise<ReadRun> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    throw new Error(
      `autocannon ${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`,
    );
  }
  return { perSecond: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

export async function readPath(
  ctx: BenchContext,
  sample: { id: string; requester: string },
  workDir: string,
): Promise<ReadResult> {
  const path = `/api/requests/${sample.id}`;
  const body = await ctx.api.json('GET', path, { as: sample.requester, expect: 200 });
  const bodyFile = join(workDir, 'b6-body.json');
  writeFileSync(bodyFile, JSON.stringify(body));
  const token = await ctx.api.token(sample.requester);
  const reqflow = await cannon(`${ctx.api.apiUrl}${path}`, ctx.scale.readSeconds, {
    authorization: `Bearer ${token}`,
  });
  const port = await freePort();
  const route = await startChild('bench/bare/fastify-route.ts', {
    BENCH_BODY_FILE: bodyFile,
    BENCH_PORT: String(port),
  });
  let bare: ReadRun;
  try {
    bare = await cannon(`http://127.0.0.1:${port}${path}`, ctx.scale.readSeconds);
  } finally {
    await route.stop();
  }
  const result = { reqflow, bare, ratio: reqflow.perSecond / bare.perSecond };
  ctx.log(
    `B6: GET /api/requests/:id ${reqflow.perSecond.toFixed(0)}/s (p99 ${reqflow.p99} ms), bare Fastify ${bare.perSecond.toFixed(0)}/s (p99 ${bare.p99} ms), ratio ${result.ratio.toFixed(2)}`,
  );
  return result;
}
