import type { Client } from '@temporalio/client';
import { grantTimerWorkflowId } from '../domain/access.js';
import { grantEndedSignal } from './workflow-contract.js';

/**
 * Tells a time-bound grant's expiry timer that the grant ended early, so it stops waiting. The
 * grant's record is what counts (a timer that wakes re-reads it, and an expiry of an ended grant
 * revokes nothing), so a timer that is gone, or a signal that fails, changes no outcome.
 */
export async function endGrantTimers(
  temporal: Client,
  grantIds: string[],
  reason: string,
  log: { warn: (obj: object, msg: string) => void },
): Promise<void> {
  await Promise.all(
    grantIds.map((id) =>
      temporal.workflow
        .getHandle(grantTimerWorkflowId(id))
        .signal(grantEndedSignal, { reason })
        .catch((err: unknown) => log.warn({ err, grantId: id }, 'grant timer not signalled')),
    ),
  );
}
