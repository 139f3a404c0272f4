import {
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  isCancellation,
  ParentClosePolicy,
  setHandler,
  startChild,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type { BundleRequestInput, RequestSnapshot, RequestStep } from '../domain/request.js';
import { admissionUpdate, RequestTracker, statusQuery } from './request-tracker.js';

/**
 * A bundle ("New starter kit": a laptop, a monitor, VPN access) as one parent request
 * with one child workflow per item. The parent is fulfilled when every child is;
 * cancelling the parent cancels the children, and each unwinds what it did.
 */
export async function bundleRequest(input: BundleRequestInput): Promise<RequestSnapshot> {
  const tracker = new RequestTracker(input);
  let admitted = false;
  setHandler(statusQuery, () => tracker.snapshot);
  setHandler(admissionUpdate, async () => {
    await condition(() => admitted);
    return tracker.snapshot;
  });

  const children: { id: string; step: RequestStep; handle: ChildWorkflowHandle<Workflow> }[] = [];
  try {
    await tracker.setStatus('fulfilling');
    for (const child of input.children) {
      const handle = await startChild(child.workflowType, {
        workflowId: child.requestId,
        args: [child.input],
        // If the parent is terminated rather than cancelled, its children still unwind.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      const step = await tracker.startStep(
        `item_${child.catalogItemId}`,
        `Child request ${child.requestId} started.`,
        'waiting',
      );
      children.push({ id: child.requestId, step, handle });
    }
    await tracker.setWaitingOn(
      `${children.length} item requests`,
      children.map((c) => `request:${c.id}`),
    );
    admitted = true;

    const results = await Promise.all(
      children.map(async (c) => {
        const result = (await c.handle.result()) as RequestSnapshot;
        await tracker.updateStep(c.step, {
          state: result.status === 'fulfilled' ? 'completed' : 'failed',
          detail: `${c.id}: ${result.status}${result.outcome ? ` — ${result.outcome.message}` : ''}`,
        });
        return result;
      }),
    );
    const failed = results.filter((r) => r.status !== 'fulfilled');
    if (failed.length === 0) {
      return await tracker.finish('fulfilled', { message: `All ${results.length} items fulfilled.` });
    }
    return await tracker.finish('failed', {
      message: `${failed.length} of ${results.length} items were not fulfilled: ${failed.map((f) => `${f.id} ${f.status}`).join(', ')}.`,
      reason: 'bundle_incomplete',
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The cancellation reached every child (they run in this scope); wait for each to unwind.
    return await CancellationScope.nonCancellable(async () => {
      admitted = true;
      for (const c of children) {
        let status = 'cancelled';
        try {
          status = ((await c.handle.result()) as RequestSnapshot).status;
        } catch (childErr) {
          if (!(childErr instanceof ChildWorkflowFailure) && !isCancellation(childErr)) throw childErr;
        }
        await tracker.updateStep(c.step, { state: 'failed', detail: `${c.id}: ${status}` });
      }
      return tracker.finish('cancelled', {
        message: 'The bundle was cancelled; every item request was unwound.',
      });
    });
  }
}
