import { Type } from 'typebox';

export const MetricsQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Submitted at or after (default: 30 days ago)' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Submitted before (default: now)' })),
    groupBy: Type.Optional(Type.Enum(['type', 'catalogItem'], { default: 'type' })),
  },
  { additionalProperties: false },
);

const Stats = Type.Object(
  {
    count: Type.Integer(),
    mean: Type.Integer(),
    p50: Type.Integer(),
    p90: Type.Integer(),
    max: Type.Integer(),
  },
  { description: 'Durations in milliseconds' },
);

export const FulfillmentMetrics = Type.Object({
  from: Type.String(),
  to: Type.String(),
  groupBy: Type.String(),
  groups: Type.Array(
    Type.Object({
      key: Type.String(),
      submitted: Type.Integer(),
      fulfilled: Type.Integer(),
      fulfillment: Type.Union([Stats, Type.Null()]),
      steps: Type.Record(Type.String(), Stats),
      automationRate: Type.Union([Type.Number(), Type.Null()]),
      sla: Type.Object({ met: Type.Integer(), breached: Type.Integer() }),
      survey: Type.Object({ answers: Type.Integer(), meanScore: Type.Union([Type.Number(), Type.Null()]) }),
    }),
  ),
});
