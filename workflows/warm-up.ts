import { localActs } from './activity-proxies.js';

/**
 * A workflow the worker runs once when it starts (runtime/warm-up.ts), and no request ever:
 * the first workflow a worker runs pays for loading the workflow code into its sandbox and
 * for the first local activity, which would otherwise fall on the first request after start.
 * It has no side effects.
 */
export async function workerWarmUp(): Promise<void> {
  await localActs.warmUp();
}
