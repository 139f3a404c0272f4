import { and, eq, inArray } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';
import { stableId } from './ids.js';

export interface ManualTaskInput {
  /** Idempotency key, e.g. `${requestId}:deployment-failed`. */
  key: string;
  /** The id to use; derived from the key when absent. */
  id?: string;
  requestId: string;
  groupId: string;
  title: string;
  description: string;
  /** Outcomes a person may choose when completing; absent: any. */
  outcomes?: string[];
  /** True when the request workflow waits for this task (completion goes to it). */
  awaited?: boolean;
  /** A person the task is for (e.g. a service owner), who may act on it without being in the group. */
  assigneeId?: string;
}

export function createTaskActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** Escalates to people: opens a task for a fulfillment group. A retry returns the task already opened. */
    async openManualTask(input: ManualTaskInput): Promise<{ taskId: string }> {
      const id = input.id ?? stableId('TASK', input.key);
      db.insert(t.tasks)
        .values({
          id,
          key: input.key,
          requestId: input.requestId,
          groupId: input.groupId,
          title: input.title,
          description: input.description,
          outcomes: input.outcomes ?? null,
          awaitedBy: input.awaited ? input.requestId : null,
          assigneeId: input.assigneeId ?? null,
          state: input.assigneeId ? 'claimed' : 'open',
          createdAt: now(),
        })
        .onConflictDoNothing({ target: t.tasks.key })
        .run();
      return { taskId: id };
    },

    /** Records a completion the workflow accepted. Idempotent: a completed task keeps its first outcome. */
    async recordTaskCompletion(input: {
      taskId: string;
      outcome: string;
      resolution?: string;
      completedBy: string;
    }): Promise<void> {
      db.update(t.tasks)
        .set({
          state: 'completed',
          outcome: input.outcome,
          resolution: input.resolution ?? null,
          completedBy: input.completedBy,
          completedAt: now(),
        })
        .where(and(eq(t.tasks.id, input.taskId), inArray(t.tasks.state, ['open', 'claimed'])))
        .run();
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
