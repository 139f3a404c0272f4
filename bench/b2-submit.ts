/**
 * B2: what `POST /api/requests` costs until its early return, against a bare update-with-start
 * (`client.workflow.executeUpdateWithStart` of a workflow whose update answers at once) on the
 * same server. One at a time, each waited to its end, so no submit queues behind another.
 */
import { WithStartWorkflowOperation } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { admittedUpdate, bareRequest } from './bare/workflows.js';
import type { BenchContext } from './context.js';
import type { Shape } from './history.js';
import { orderVisio } from './requests.js';
import { summarize, type Summary } from './stats.js';

export interface SubmitResult {
  reqflow: Summary;
  bare: Summary;
  /** reqflow's p50 over the baseline's (1 = no overhead). */
  ratio: number;
}

export async function submitOverhead(ctx: BenchContext, shape: Shape): Promise<SubmitResult> {
  const reqflow: number[] = [];
  for (let i = 0; i < ctx.scale.submits; i++)
    reqflow.push((await orderVisio(ctx, ctx.nextPerson())).submitMs);
  const bare: number[] = [];
  for (let i = 0; i < ctx.scale.submits; i++) {
    const startWorkflowOperation = new WithStartWorkflowOperation(bareRequest, {
      workflowId: `bench-bare-${randomUUID()}`,
      taskQueue: ctx.bareTaskQueue,
      args: [shape],
      workflowIdConflictPolicy: 'FAIL',
    });
    const sentAt = Date.now();
    await ctx.temporal.workflow.executeUpdateWithStart(admittedUpdate, { startWorkflowOperation });
    bare.push(Date.now() - sentAt);
    await (await startWorkflowOperation.workflowHandle()).result();
  }
  const result = { reqflow: summarize(reqflow), bare: summarize(bare), ratio: 0 };
  result.ratio = result.reqflow.p50 / result.bare.p50;
  ctx.log(
    `B2: POST p50 ${result.reqflow.p50} ms, bare update-with-start p50 ${result.bare.p50} ms, ratio ${result.ratio.toFixed(2)}`,
  );
  return result;
}
