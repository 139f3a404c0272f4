import { proxyActivities } from '@temporalio/workflow';
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
