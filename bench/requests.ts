/** Ordering through the API and waiting for the end through Temporal, as the benchmarks time it. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from './context.js';
import type { BenchPerson } from './fixture.js';
import type { RequestView } from './http.js';

export interface Timed {
  id: string;
  /** POST /api/requests: sent → answered (the early return). */
  submitMs: number;
  /** Sent → the workflow closed, seen by a client waiting on its result. */
  closedMs: number;
  /** Sent → the request's own `fulfilledAt` (same machine's clock). */
  fulfilledMs: number;
  /** Wall-clock end, for throughput. */
  endedAt: number;
}

export async function submit(
  ctx: BenchContext,
  requester: string,
  body: Record<string, unknown>,
): Promise<{ view: RequestView; sentAt: number; submitMs: number }> {
  const sentAt = Date.now();
  const view = await ctx.api.json<RequestView>('POST', '/api/requests', { as: requester, body, expect: 202 });
  return { view, sentAt, submitMs: Date.now() - sentAt };
}

/** Waits for the request's workflow to close (a long poll, no load) and checks it fulfilled. */
export async function awaitFulfilled(ctx: BenchContext, id: string, requester: string, sentAt: number) {
  await ctx.temporal.workflow.getHandle(id).result();
  const closedMs = Date.now() - sentAt;
  const view = await ctx.api.json<RequestView>('GET', `/api/requests/${id}`, { as: requester, expect: 200 });
  if (view.status !== 'fulfilled' || !view.fulfilledAt) {
    throw new Error(
      `request ${id} ended ${view.status}, not fulfilled: ${JSON.stringify(view).slice(0, 800)}`,
    );
  }
  return { closedMs, fulfilledMs: Date.parse(view.fulfilledAt) - sentAt };
}

/** One Visio install for `person`'s laptop, submit to fulfilled. */
export async function orderVisio(ctx: BenchContext, person: BenchPerson): Promise<Timed> {
  const { view, sentAt, submitMs } = await submit(ctx, person.userId, {
    catalogItemId: 'visio',
    deviceId: person.deviceId,
  });
  const done = await awaitFulfilled(ctx, view.id, person.userId, sentAt);
  return { id: view.id, submitMs, ...done, endedAt: Date.now() };
}

/** Reads the request until it has `status`, within a minute (a request that never gets there is a broken run). */
export async function awaitStatus(ctx: BenchContext, id: string, as: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await ctx.api.json<RequestView>('GET', `/api/requests/${id}`, { as, expect: 200 });
    if (view.status === status) return;
    if (Date.now() > deadline)
      throw new Error(`${id} is still ${view.status}, not ${status}, after a minute`);
    await sleep(100);
  }
}
