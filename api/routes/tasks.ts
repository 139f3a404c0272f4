import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { and, desc, eq, inArray, or, type SQL } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { createTasks, type TaskRow } from '../../tasks/index.js';
import { completeTaskUpdate, TASK_NOT_AWAITED, TASK_OUTCOME_REFUSED } from '../workflow-contract.js';
import { temporalProblem } from '../temporal-problems.js';
import { conflict, forbidden, notFound, unprocessable } from '../errors.js';
import type { UserPrincipal } from '../plugins/auth.js';
import { authProblems, problemRef } from '../schemas/common.js';
import {
  CommentBody,
  CompleteTaskBody,
  ListTasksQuery,
  ReassignTaskBody,
  TaskId,
  TaskView,
} from '../schemas/tasks.js';

/** Manual tasks: only members of a task's fulfillment group, its assignee and operators see or act on it. */
const tasksRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client }> = async (
  app,
  { db, temporal },
) => {
  app.addHook('preHandler', app.authenticate);
  const base = { tags: ['tasks'], security: [{ bearerAuth: [] }] };
  const params = Type.Object({ id: TaskId });

  const tasks = createTasks({ db });
  const view = async (row: TaskRow) => ({
    id: row.id,
    requestId: row.requestId,
    groupId: row.groupId,
    title: row.title,
    description: row.description,
    state: row.state,
    assignee: row.assigneeId,
    outcomes: row.outcomes,
    awaited: row.awaitedBy !== null,
    outcome: row.outcome,
    resolution: row.resolution,
    completedBy: row.completedBy,
    createdAt: row.createdAt,
    completedAt: row.completedAt,
    comments: (await tasks.listTaskComments(row.id)).map((c) => ({
      author: c.authorId,
      body: c.body,
      createdAt: c.createdAt,
    })),
  });
  /** The task as it is now, after a change the route made to it (it exists: the route just read it). */
  const current = async (id: string) => view((await tasks.findTask(id))!);

  /** The task, if the caller may act on it; a task of another group is a 404 (its existence is not theirs to know). */
  async function taskFor(user: UserPrincipal, id: string): Promise<TaskRow> {
    const row = await tasks.findTask(id);
    const mayAct = user.isOperator || user.groups.includes(row?.groupId ?? '') || row?.assigneeId === user.id;
    if (!row || !mayAct) throw notFound(`Task ${id} not found.`);
    return row;
  }
  function assertOpen(row: TaskRow): void {
    if (row.state !== 'open' && row.state !== 'claimed')
      throw conflict(`Task ${row.id} is already ${row.state}.`);
  }

  app.get(
    '/',
    {
      schema: {
        ...base,
        summary: 'Tasks of my fulfillment groups (operators: all), newest first',
        querystring: ListTasksQuery,
        response: { 200: Type.Object({ items: Type.Array(TaskView) }), ...authProblems },
      },
    },
    async (request) => {
      const user = request.principal;
      const q = request.query;
      const filters: (SQL | undefined)[] = [
        user.isOperator
          ? undefined
          : or(
              inArray(t.tasks.groupId, user.groups.length ? user.groups : ['']),
              eq(t.tasks.assigneeId, user.id),
            ),
        q.state ? eq(t.tasks.state, q.state) : inArray(t.tasks.state, ['open', 'claimed']),
        q.groupId ? eq(t.tasks.groupId, q.groupId) : undefined,
        q.requestId ? eq(t.tasks.requestId, q.requestId) : undefined,
        q.mine ? eq(t.tasks.assigneeId, user.id) : undefined,
      ];
      const rows = await db
        .select()
        .from(t.tasks)
        .where(and(...filters))
        .orderBy(desc(t.tasks.createdAt), desc(t.tasks.id))
        .limit(q.limit ?? 50)
        .offset(q.offset ?? 0);
      return { items: await Promise.all(rows.map(view)) };
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        ...base,
        summary: 'One task with its comments',
        params,
        response: { 200: TaskView, ...authProblems, 404: problemRef },
      },
    },
    async (request) => view(await taskFor(request.principal, request.params.id)),
  );

  app.post(
    '/:id/claim',
    {
      schema: {
        ...base,
        summary: 'Take a task: it is assigned to me',
        params,
        response: { 200: TaskView, ...authProblems, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const user = request.principal;
      const row = await taskFor(user, request.params.id);
      assertOpen(row);
      if (!(await tasks.claimTask(row.id, user.id)) && row.assigneeId !== user.id) {
        const holder = (await tasks.findTask(row.id))?.assigneeId;
        throw conflict(`Task ${row.id} was already claimed by ${holder ?? 'someone else'}.`);
      }
      return current(row.id);
    },
  );

  app.post(
    '/:id/reassign',
    {
      schema: {
        ...base,
        summary: 'Hand a task to a member of its group, or to another group',
        params,
        body: ReassignTaskBody,
        response: { 200: TaskView, ...authProblems, 404: problemRef, 409: problemRef, 422: problemRef },
      },
    },
    async (request) => {
      const row = await taskFor(request.principal, request.params.id);
      assertOpen(row);
      const groupId = request.body.groupId ?? row.groupId;
      const [group] = await db.select().from(t.groups).where(eq(t.groups.id, groupId)).limit(1);
      if (!group || group.kind !== 'fulfillment')
        throw unprocessable(`"${groupId}" is not a fulfillment group.`);
      const assigneeId = request.body.assigneeId ?? null;
      if (assigneeId) {
        const [member] = await db
          .select()
          .from(t.groupMembers)
          .where(and(eq(t.groupMembers.groupId, groupId), eq(t.groupMembers.userId, assigneeId)))
          .limit(1);
        if (!member) throw unprocessable(`${assigneeId} is not a member of ${groupId}.`);
      }
      await tasks.reassignTask(row.id, { groupId, assigneeId });
      return current(row.id);
    },
  );

  app.post(
    '/:id/comments',
    {
      schema: {
        ...base,
        summary: 'Comment on a task',
        params,
        body: CommentBody,
        response: { 201: TaskView, ...authProblems, 404: problemRef },
      },
    },
    async (request, reply) => {
      const row = await taskFor(request.principal, request.params.id);
      await tasks.commentOnTask(row.id, request.principal.id, request.body.body);
      return reply.code(201).send(await view(row));
    },
  );

  app.post(
    '/:id/complete',
    {
      schema: {
        ...base,
        summary: 'Complete a task with an outcome; a waiting request goes on at once',
        params,
        body: CompleteTaskBody,
        response: {
          200: TaskView,
          ...authProblems,
          403: problemRef,
          404: problemRef,
          409: problemRef,
          422: problemRef,
        },
      },
    },
    async (request) => {
      const user = request.principal;
      const row = await taskFor(user, request.params.id);
      assertOpen(row);
      if (row.state === 'claimed' && row.assigneeId && row.assigneeId !== user.id && !user.isOperator) {
        throw forbidden(`Task ${row.id} is claimed by ${row.assigneeId}; ask them, or have it reassigned.`);
      }
      const { outcome, resolution } = request.body;
      if (row.outcomes && !row.outcomes.includes(outcome)) {
        throw unprocessable(`Outcome "${outcome}" is not one of: ${row.outcomes.join(', ')}.`);
      }
      const completion = {
        taskId: row.id,
        outcome,
        completedBy: user.id,
        ...(resolution ? { resolution } : {}),
      };
      if (row.awaitedBy) {
        // The request waits for this task: the workflow records the completion, so the
        // task and the request can never disagree.
        try {
          await temporal.workflow
            .getHandle(row.awaitedBy)
            .executeUpdate(completeTaskUpdate, { args: [completion] });
        } catch (err) {
          throw temporalProblem(err, {
            closed: () =>
              conflict(`Request ${row.awaitedBy} has already ended; task ${row.id} is not awaited.`),
            refused: { [TASK_NOT_AWAITED]: conflict, [TASK_OUTCOME_REFUSED]: unprocessable },
          });
        }
      } else {
        await tasks.completeTask(completion);
      }
      return current(row.id);
    },
  );
};

export default tasksRoutes;
