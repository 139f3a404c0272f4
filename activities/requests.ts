import { projectRequest, type SyncRequestInput } from '../requests/index.js';
import type { ActivityDeps } from './deps.js';

export type { SyncRequestInput } from '../requests/index.js';

export function createRequestActivities({ db }: ActivityDeps) {
  return {
    /** The workflow's snapshot into the requests projection (requests/index.ts writes it). */
    async syncRequest(input: SyncRequestInput): Promise<void> {
      await projectRequest(db, input);
    },
  };
}
