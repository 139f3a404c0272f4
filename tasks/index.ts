import { and, asc, eq, inArray } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * The tasks aggregate: manual tasks for fulfillment groups and their comments. This module
 * alone writes `tasks` and `task_comments`; the workflows' activities and the task routes
 * call it. Every query is awaited, so the same code runs on SQLite and PostgreSQL.
 */

export type TaskRow = typeof t.tasks.$inferSelect;

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

export interface TaskCompletion {
  taskId: string;
  outcome: string;
  resolution?: string;
  completedBy: string;
}

export interface TasksDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

const stillOpen = (id: string) => and(eq(t.tasks.id, id), inArray(t.tasks.state, ['open', 'claimed']));

export function createTasks(deps: TasksDeps) {
  const { db } = deps;
  const now = () => (deps.now ? deps.now() : new Date()).toISOString();
  return {
    async findTask(id: string): Promise<TaskRow | undefined> {
      const [task] = await db.select().from(t.tasks).where(eq(t.tasks.id, id)).limit(1);
      return task;
    },

    /** Oldest first. */
    async listTaskComments(taskId: string) {
      return db
        .select()
        .from(t.taskComments)
        .where(eq(t.taskComments.taskId, taskId))
        .orderBy(asc(t.taskComments.id));
    },

    /** Opens a task once per key; a second call (a retried activity) changes nothing. */
    async openTask(input: ManualTaskInput & { id: string }): Promise<void> {
      await db
        .insert(t.tasks)
        .values({
          id: input.id,
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
        .onConflictDoNothing({ target: t.tasks.key });
    },

    /** Assigns an open task to `userId`; false when someone claimed it first. */
    async claimTask(taskId: string, userId: string): Promise<boolean> {
      const claimed = await db
        .update(t.tasks)
        .set({ state: 'claimed', assigneeId: userId })
        .where(and(eq(t.tasks.id, taskId), eq(t.tasks.state, 'open')))
        .returning({ id: t.tasks.id });
      return claimed.length > 0;
    },

    /** To another group or person; without an assignee it is open for the group again. */
    async reassignTask(taskId: string, to: { groupId: string; assigneeId: string | null }): Promise<void> {
      await db
        .update(t.tasks)
        .set({ groupId: to.groupId, assigneeId: to.assigneeId, state: to.assigneeId ? 'claimed' : 'open' })
        .where(eq(t.tasks.id, taskId));
    },

    /** Idempotent: a completed task keeps its first outcome. */
    async completeTask(input: TaskCompletion): Promise<void> {
      await db
        .update(t.tasks)
        .set({
          state: 'completed',
          outcome: input.outcome,
          resolution: input.resolution ?? null,
          completedBy: input.completedBy,
          completedAt: now(),
        })
        .where(stillOpen(input.taskId));
    },

    /** Closes a task nobody needs to do any more; a finished task stays as it is. */
    async cancelTask(input: { taskId: string; resolution?: string; by?: string }): Promise<void> {
      await db
        .update(t.tasks)
        .set({
          state: 'cancelled',
          completedAt: now(),
          ...(input.resolution !== undefined ? { resolution: input.resolution } : {}),
          ...(input.by !== undefined ? { completedBy: input.by } : {}),
        })
        .where(stillOpen(input.taskId));
    },

    async commentOnTask(taskId: string, authorId: string, body: string): Promise<void> {
      await db.insert(t.taskComments).values({ taskId, authorId, body });
    },
  };
}

export type Tasks = ReturnType<typeof createTasks>;
