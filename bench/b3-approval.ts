/**
 * B3: a manager's approve call until the access request is fulfilled, against a raw update to
 * a bare workflow that then runs as many no-op activities and local activities as the request
 * runs after its decision (counted from the request's own history).
 */
import { randomUUID } from 'node:crypto';
import { admittedUpdate, approveUpdate, bareRequest } from './bare/workflows.js';
import type { BenchContext } from './context.js';
import { BENCH_MANAGER } from './fixture.js';
import { shapeAfterLastMessage, type Shape } from './history.js';
import { awaitFulfilled, awaitStatus, submit } from './requests.js';
import { summarize, type Summary } from './stats.js';

export interface ApprovalResult {
  /** The steps after the decision that the baseline repeats. */
  shape: Shape;
  reqflow: { closed: Summary; fulfilled: Summary };
  bare: Summary;
  /** reqflow's p50 over the baseline's, both from the call to the workflow's close seen by a client. */
  ratio: number;
  /** One approved request, for B5. */
  sampleId: string;
}

async function approveOne(ctx: BenchContext, requester: string) {
  const { view } = await submit(ctx, requester, {
    catalogItemId: 'financial-reporting',
    justification: 'benchmark: month-end reports',
  });
  // Under load the early return may come before the request reached its approval.
  await awaitStatus(ctx, view.id, requester, 'awaiting_approval');
  const sentAt = Date.now();
  await ctx.api.json('POST', `/api/requests/${view.id}/approvals`, {
    as: BENCH_MANAGER,
    body: { decision: 'approve', comment: 'benchmark' },
    expect: 200,
  });
  return { id: view.id, ...(await awaitFulfilled(ctx, view.id, requester, sentAt)) };
}

export async function approvalLatency(ctx: BenchContext): Promise<ApprovalResult> {
  const requesters = ctx.requesters();
  // The first one finds the shape and warms the path; it is not timed.
  const first = await approveOne(ctx, requesters[0]!.userId);
  const shape = await shapeAfterLastMessage(ctx.temporal, first.id);
  const closed: number[] = [];
  const fulfilled: number[] = [];
  for (let i = 0; i < ctx.scale.approvals; i++) {
    const t = await approveOne(ctx, requesters[(i + 1) % requesters.length]!.userId);
    closed.push(t.closedMs);
    fulfilled.push(t.fulfilledMs);
  }
  const bare: number[] = [];
  for (let i = 0; i < ctx.scale.approvals; i++) {
    const handle = await ctx.temporal.workflow.start(bareRequest, {
      taskQueue: ctx.bareTaskQueue,
      workflowId: `bench-bare-${randomUUID()}`,
      args: [{ ...shape, awaitApproval: true }],
    });
    // Answered only once the workflow has run its first task: it now waits for the decision.
    await handle.executeUpdate(admittedUpdate);
    const sentAt = Date.now();
    await handle.executeUpdate(approveUpdate);
    await handle.result();
    bare.push(Date.now() - sentAt);
  }
  const result: ApprovalResult = {
    shape,
    reqflow: { closed: summarize(closed), fulfilled: summarize(fulfilled) },
    bare: summarize(bare),
    ratio: 0,
    sampleId: first.id,
  };
  result.ratio = result.reqflow.closed.p50 / result.bare.p50;
  ctx.log(
    `B3: approve → closed p50 ${result.reqflow.closed.p50} ms (fulfilledAt ${result.reqflow.fulfilled.p50} ms), bare update + ${shape.activities} activities/${shape.localActivities} local p50 ${result.bare.p50} ms, ratio ${result.ratio.toFixed(2)}`,
  );
  return result;
}
