import { closeChange, openChange } from '../cmdb/changes.js';
import type { ChangeModel, ChangeState } from '../domain/status.js';
import { clock, type ActivityDeps } from './deps.js';
import { requestSuffix } from './ids.js';

export interface ChangeInput {
  requestId: string;
  catalogItemId: string;
  model: ChangeModel;
  /** A Standard Change is pre-authorized; a Normal Change is authorized by the CAB before this call. */
  authorizedBy: string;
  summary: string;
}

export function createChangeActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** Records the change that carries the deployment. One per request, so a retry returns the same change. */
    async recordChange(input: ChangeInput): Promise<{ changeId: string }> {
      return openChange(db, {
        id: `CHG-${requestSuffix(input.requestId)}`,
        requestId: input.requestId,
        catalogItemId: input.catalogItemId,
        model: input.model,
        summary: `${input.summary} (authorized by ${input.authorizedBy})`,
        at: now(),
      });
    },

    /** Closes the change; a change already closed keeps its first outcome. */
    async closeChange(input: {
      requestId: string;
      state: Exclude<ChangeState, 'implementing'>;
      note: string;
    }): Promise<void> {
      await closeChange(db, { ...input, at: now() });
    },
  };
}
