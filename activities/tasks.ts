import { createTasks, type ManualTaskInput } from '../tasks/index.js';
import type { ActivityDeps } from './deps.js';
import { stableId } from './ids.js';

export type { ManualTaskInput } from '../tasks/index.js';

/** The workflows' side of manual tasks (tasks/index.ts writes them). */
export function createTaskActivities(deps: ActivityDeps) {
  const tasks = createTasks(deps);
  return {
    /** Escalates to people: opens a task for a fulfillment group. A retry returns the task already opened. */
    async openManualTask(input: ManualTaskInput): Promise<{ taskId: string }> {
      const id = input.id ?? stableId('TASK', input.key);
      await tasks.openTask({ ...input, id });
      return { taskId: id };
    },

    /** Records a completion the workflow accepted. Idempotent: a completed task keeps its first outcome. */
    async recordTaskCompletion(input: {
      taskId: string;
      outcome: string;
      resolution?: string;
      completedBy: string;
    }): Promise<void> {
      await tasks.completeTask(input);
    },

    /** Closes a task the workflow no longer needs (e.g. a seat freed up on its own). */
    async cancelManualTask(input: { taskId: string }): Promise<void> {
      await tasks.cancelTask(input);
    },
  };
}
