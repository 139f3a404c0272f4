import { and, eq } from 'drizzle-orm';
import * as t from '../db/schema.js';
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
      const id = `CHG-${requestSuffix(input.requestId)}`;
      db.insert(t.changes)
        .values({
          id,
          requestId: input.requestId,
          catalogItemId: input.catalogItemId,
          model: input.model,
          preAuthorized: input.model === 'standard',
          state: 'implementing',
          summary: `${input.summary} (authorized by ${input.authorizedBy})`,
          openedAt: now(),
        })
        .onConflictDoNothing({ target: t.changes.requestId })
        .run();
      const row = db
        .select({ id: t.changes.id })
        .from(t.changes)
        .where(eq(t.changes.requestId, input.requestId))
        .get();
      return { changeId: row!.id };
    },

    /** Closes the change; a change already closed keeps its first outcome. */
    async closeChange(input: {
      requestId: string;
      state: Exclude<ChangeState, 'implementing'>;
      note: string;
    }): Promise<void> {
      db.update(t.changes)
        .set({ state: input.state, closedAt: now(), closeNote: input.note })
        .where(and(eq(t.changes.requestId, input.requestId), eq(t.changes.state, 'implementing')))
        .run();
    },
  };
}
