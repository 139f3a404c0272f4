/**
 * B1: Visio requests submitted over HTTP by distinct people for their own laptops, at each
 * concurrency, against bare workflows of the same shape (as many activities and local
 * activities, doing nothing) on the same server and at the same concurrency.
 */
import { randomUUID } from 'node:crypto';
import { bareRequest } from './bare/workflows.js';
import type { BenchContext } from './context.js';
import type { Shape } from './history.js';
import { orderVisio } from './requests.js';
import { inParallel, summarize, type Summary } from './stats.js';

export interface ThroughputLevel {
  concurrency: number;
  requests: number;
  reqflow: { perSecond: number; closed: Summary; fulfilled: Summary };
  bare: { perSecond: number; closed: Summary };
  /** reqflow's requests/s over the baseline's (1 = as fast as bare Temporal). */
  ratio: number;
}

export async function runBareWorkflows(
  ctx: BenchContext,
  shape: Shape & { awaitApproval?: boolean },
  requests: number,
  concurrency: number,
): Promise<{ perSecond: number; closedMs: number[] }> {
  const closedMs: number[] = [];
  const started = Date.now();
  await inParallel(requests, concurrency, async () => {
    const sentAt = Date.now();
    const handle = await ctx.temporal.workflow.start(bareRequest, {
      taskQueue: ctx.bareTaskQueue,
      workflowId: `bench-bare-${randomUUID()}`,
      args: [shape],
    });
    await handle.result();
    closedMs.push(Date.now() - sentAt);
  });
  return { perSecond: requests / ((Date.now() - started) / 1000), closedMs };
}

export async function throughput(ctx: BenchContext, shape: Shape): Promise<ThroughputLevel[]> {
  const levels: ThroughputLevel[] = [];
  for (const { concurrency, requests } of ctx.scale.throughput) {
    const people = Array.from({ length: requests }, () => ctx.nextPerson());
    const closed: number[] = [];
    const fulfilled: number[] = [];
    const started = Date.now();
    await inParallel(requests, concurrency, async (i) => {
      const t = await orderVisio(ctx, people[i]!);
      closed.push(t.closedMs);
      fulfilled.push(t.fulfilledMs);
    });
    const perSecond = requests / ((Date.now() - started) / 1000);
    const bare = await runBareWorkflows(ctx, shape, requests, concurrency);
    const level: ThroughputLevel = {
      concurrency,
      requests,
      reqflow: { perSecond, closed: summarize(closed), fulfilled: summarize(fulfilled) },
      bare: { perSecond: bare.perSecond, closed: summarize(bare.closedMs) },
      ratio: perSecond / bare.perSecond,
    };
    ctx.log(
      `B1 c=${concurrency}: reqflow ${perSecond.toFixed(2)}/s (p50 ${level.reqflow.fulfilled.p50} ms), bare ${bare.perSecond.toFixed(2)}/s, ratio ${level.ratio.toFixed(2)}`,
    );
    levels.push(level);
  }
  return levels;
}
