import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/**
 * The activities as every request workflow calls them. Business refusals are
 * non-retryable ApplicationFailures raised by the activities; everything else (SQLite
 * busy, a worker that died) is retried with backoff, for as long as it takes.
 */
export const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m', backoffCoefficient: 2 },
});

/**
 * The same activities run as local activities: in the worker that runs the workflow task,
 * recorded as one marker each, with no activity task to schedule, poll and complete. For
 * the short SQLite steps of the automated path, where the round trips through the server
 * cost more than the step. Same retry policy: a retry wait longer than a minute becomes a
 * durable timer.
 */
export const localActs = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m', backoffCoefficient: 2 },
});

/**
 * Notifies the requester about their request, once per key, with a link to it; the
 * beneficiary of a request made on their behalf gets a copy (the same activity, so
 * runs already in flight replay unchanged).
 */
export function requesterNotifier(requestId: string, requester: string, beneficiary?: string) {
  return (key: string, subject: string, body: string, links: Record<string, string> = {}) =>
    acts.notify({
      key: `${requestId}:${key}`,
      requestId,
      recipient: requester,
      subject,
      body,
      links: { request: `/api/requests/${requestId}`, ...links },
      ...(beneficiary && beneficiary !== requester ? { copyTo: beneficiary } : {}),
    });
}
