import { and, eq, inArray } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';
import { stableId } from './ids.js';

export interface ManualTaskInput {
  /** Idempotency key, e.g. `${requestId}:deployment-failed`. */
  key: string;
  requestId: string;
  groupId: string;
  title: string;
  description: string;
}

export function createTaskActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** Escalates to people: opens a task for a fulfillment group. A retry returns the task already opened. */
    async openManualTask(input: ManualTaskInput): Promise<{ taskId: string }> {
      const id = stableId('TASK', input.key);
      db.insert(t.tasks)
        .values({ id, ...input, state: 'open', createdAt: now() })
        .onConflictDoNothing({ target: t.tasks.key })
        .run();
      return { taskId: id };
    },

    /** Closes a task the workflow no longer needs (e.g. a seat freed up on its own). */
    async cancelManualTask(input: { taskId: string }): Promise<void> {
      db.update(t.tasks)
        .set({ state: 'cancelled', completedAt: now() })
        .where(and(eq(t.tasks.id, input.taskId), inArray(t.tasks.state, ['open', 'claimed'])))
        .run();
    },
  };
}
