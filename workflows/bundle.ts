import {
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  ParentClosePolicy,
  startChild,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type { BundleRequestInput, RequestSnapshot, RequestStep } from '../domain/request.js';
import { acts } from './activity-proxies.js';
import { auditorFor, RequestTracker } from './request-tracker.js';

/**
 * A bundle ("New starter kit": a laptop, a monitor, VPN access) as one parent request
 * with one child workflow per item. The parent is fulfilled when every child is;
 * cancelling the parent cancels the children, and each unwinds what it did.
 */
export async function bundleRequest(input: BundleRequestInput): Promise<RequestSnapshot> {
  const tracker = new RequestTracker(input);

  const audit = auditorFor(input.requestId, input.beneficiary);
  const children: {
    id: string;
    catalogItemId: string;
    workflowType: string;
    step: RequestStep;
    handle: ChildWorkflowHandle<Workflow>;
  }[] = [];
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
        // The child request's own steps say who works on it; here the bundle only waits.
        'waiting',
        `Child request ${child.requestId} started.`,
        'waiting',
      );
      children.push({
        id: child.requestId,
        catalogItemId: child.catalogItemId,
        workflowType: child.workflowType,
        step,
        handle,
      });
    }
    await tracker.setWaitingOn(
      `${children.length} item requests`,
      children.map((c) => `request:${c.id}`),
    );
    tracker.admit();

    // Children end in any order; the parent waits only on those still open.
    const open = new Set(children.map((c) => c.id));
    const results = await Promise.all(
      children.map(async (c) => {
        const result = (await c.handle.result()) as RequestSnapshot;
        open.delete(c.id);
        await tracker.updateStep(c.step, {
          state: result.status === 'fulfilled' ? 'completed' : 'failed',
          detail: `${c.id}: ${result.status}${result.outcome ? ` — ${result.outcome.message}` : ''}`,
          waitingOn: open.size
            ? {
                what: `${open.size} of ${children.length} item requests`,
                who: [...open].map((id) => `request:${id}`),
              }
            : { what: null },
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
      tracker.admit();
      for (const c of children) {
        let status = 'cancelled';
        try {
          status = ((await c.handle.result()) as RequestSnapshot).status;
        } catch (childErr) {
          if (!(childErr instanceof ChildWorkflowFailure) && !isCancellation(childErr)) throw childErr;
        }
        // A child already fulfilled is undone too: access is revoked at once; anything
        // physical or installed goes to the service desk to take back.
        let detail = `${c.id}: ${status}`;
        if (status === 'fulfilled') {
          if (c.workflowType === 'accessRequest') {
            const { removed } = await acts.revokeGroupMemberships({
              requestId: c.id,
              undoneBy: input.requestId,
            });
            await audit('access.revoked', { child: c.id, removed });
            // Nothing removed: the person had that access through another request, which stands.
            detail = removed
              ? `${c.id}: access revoked (bundle cancelled).`
              : `${c.id}: nothing to revoke; ${input.beneficiary} keeps the access granted by another request.`;
          } else {
            const { taskId } = await acts.openManualTask({
              key: `${c.id}:undo`,
              requestId: input.requestId,
              groupId: 'service-desk',
              title: `Take back ${c.catalogItemId} (${c.id}): the bundle ${input.requestId} was cancelled`,
              description: `${c.id} was fulfilled before ${input.requester} cancelled the bundle.`,
            });
            detail = `${c.id}: fulfilled before the cancellation; task ${taskId} takes it back.`;
          }
        }
        await tracker.updateStep(c.step, { state: 'compensated', detail });
      }
      return tracker.finish('cancelled', {
        message: 'The bundle was cancelled; every item request was unwound.',
      });
    });
  }
}
