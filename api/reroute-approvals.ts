import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DB } from '../db/client.js';
import { requestsAwaiting } from '../approvals/tasks.js';
import type { ApproverDeactivation } from '../domain/approval.js';
import { approverDeactivatedSignal } from './workflow-contract.js';

/**
 * Moves on every approval that waits for someone the directory deactivated: each request
 * with a pending approval task for them gets `approverDeactivatedSignal`, and its approval
 * gate hands the decision up their management chain. Safe to repeat (a request that no
 * longer waits on them ignores it), so an identity provider's retry of a failed call heals
 * what a Temporal outage left undone. Throws when some request could not be told.
 */
export async function rerouteApprovalsOf(
  db: DB,
  temporal: Client,
  deactivation: ApproverDeactivation,
): Promise<string[]> {
  const requestIds = await requestsAwaiting(db, deactivation.approver);
  const results = await Promise.allSettled(
    requestIds.map((id) => temporal.workflow.getHandle(id).signal(approverDeactivatedSignal, deactivation)),
  );
  // A request that ended meanwhile has nothing left to move on.
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' && !(r.reason instanceof WorkflowNotFoundError)
      ? [{ id: requestIds[i], reason: r.reason as unknown }]
      : [],
  );
  const first = failures[0];
  if (first) {
    throw new Error(
      `Could not tell ${failures.map((f) => f.id).join(', ')} that ${deactivation.approver} can no longer approve: ${String(first.reason)}`,
      { cause: first.reason },
    );
  }
  return requestIds;
}
