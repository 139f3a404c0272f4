import { Type } from 'typebox';
import { JOB_ACTIONS } from '../../domain/status.js';

export const AgentJob = Type.Object({
  id: Type.String(),
  requestId: Type.String(),
  action: Type.Enum(JOB_ACTIONS),
  attempt: Type.Integer(),
  package: Type.Object({
    id: Type.String(),
    name: Type.String(),
    version: Type.String(),
    timeoutSeconds: Type.Integer(),
    scripts: Type.Object({ detect: Type.String(), install: Type.String(), uninstall: Type.String() }),
  }),
  traceparent: Type.Optional(
    Type.String({
      description:
        'W3C trace context of the workflow step that queued the job (present when the server traces): ' +
        'an agent that traces runs the job in a span of that trace.',
      pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
    }),
  ),
});

export const JobsQuery = Type.Object(
  { waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 0 })) },
  { additionalProperties: false },
);

export const JobResultBody = Type.Object(
  {
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    outcome: Type.Enum(['succeeded', 'already_installed', 'failed', 'timed_out']),
    output: Type.String({ maxLength: 65536 }),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
