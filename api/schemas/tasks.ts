import { pageQuery } from './common.js';
import { Type } from 'typebox';
import { TASK_STATES } from '../../domain/status.js';

export const TaskId = Type.String({ pattern: '^TASK-[0-9A-Z]{4,40}$' });

export const TaskComment = Type.Object({
  author: Type.String(),
  body: Type.String(),
  createdAt: Type.String(),
});

export const TaskView = Type.Object({
  id: Type.String(),
  requestId: Type.Union([Type.String(), Type.Null()]),
  groupId: Type.String(),
  title: Type.String(),
  description: Type.String(),
  state: Type.Enum(TASK_STATES),
  assignee: Type.Union([Type.String(), Type.Null()]),
  /** Outcomes allowed when completing; null: any. */
  outcomes: Type.Union([Type.Array(Type.String()), Type.Null()]),
  /** True when the request waits for this task. */
  awaited: Type.Boolean(),
  outcome: Type.Union([Type.String(), Type.Null()]),
  resolution: Type.Union([Type.String(), Type.Null()]),
  completedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  completedAt: Type.Union([Type.String(), Type.Null()]),
  comments: Type.Array(TaskComment),
});

export const ListTasksQuery = Type.Object(
  {
    state: Type.Optional(Type.Enum(TASK_STATES)),
    groupId: Type.Optional(Type.String({ maxLength: 100 })),
    requestId: Type.Optional(Type.String({ maxLength: 100 })),
    mine: Type.Optional(Type.Boolean({ description: 'Only tasks assigned to me' })),
    ...pageQuery(50, 200),
  },
  { additionalProperties: false },
);

export const CompleteTaskBody = Type.Object(
  {
    outcome: Type.String({ minLength: 1, maxLength: 100 }),
    resolution: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

export const ReassignTaskBody = Type.Object(
  {
    assigneeId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    groupId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const CommentBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 4000 }) },
  { additionalProperties: false },
);
