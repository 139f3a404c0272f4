import { findRequest } from '../requests/index.js';
import type { ActivityDeps } from './deps.js';

export function createWarmUpActivities({ db }: ActivityDeps) {
  return {
    /**
     * Reads a request that does not exist: nothing is written. Run once by the worker's
     * warm-up workflow (runtime/warm-up.ts) so that the first real request does not pay for
     * the first local activity and the first query of the requests projection.
     */
    async warmUp(): Promise<void> {
      await findRequest(db, '');
    },
  };
}
