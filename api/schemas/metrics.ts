import { Type } from 'typebox';
import { MONTH_PATTERN } from '../../metrics/fulfillment.js';

export const MetricsQuery = Type.Object(
  {
    month: Type.Optional(
      Type.String({
        pattern: MONTH_PATTERN,
        description: 'A UTC calendar month, YYYY-MM (instead of from/to)',
      }),
    ),
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Period start, inclusive (default: 30 days ago)' }),
    ),
    to: Type.Optional(
      Type.String({ format: 'date-time', description: 'Period end, exclusive (default: now)' }),
    ),
    groupBy: Type.Optional(Type.Enum(['type', 'catalogItem'], { default: 'type' })),
  },
  { additionalProperties: false },
);

export const Stats = Type.Object(
  {
    count: Type.Integer(),
    mean: Type.Integer(),
    p50: Type.Integer(),
    p90: Type.Integer(),
    max: Type.Integer(),
  },
  { description: 'Durations in milliseconds' },
);

const NullableStats = Type.Union([Stats, Type.Null()]);

export const FulfillmentGroup = Type.Object({
  key: Type.String(),
  submitted: Type.Integer({ description: 'Requests submitted in the period' }),
  fulfilled: Type.Integer({
    description: 'Requests fulfilled in the period: the cohort of every time figure',
  }),
  fulfillment: NullableStats,
  phases: Type.Object(
    {
      approval: NullableStats,
      device_wait: NullableStats,
      deploying: NullableStats,
      person: NullableStats,
      automated: NullableStats,
    },
    {
      description:
        'Time per phase, summed per request; per request the phases add up to its fulfillment time',
    },
  ),
  steps: Type.Record(Type.String(), Stats),
  automationRate: Type.Union([Type.Number(), Type.Null()]),
  sla: Type.Object({ met: Type.Integer(), breached: Type.Integer() }),
  survey: Type.Object({ answers: Type.Integer(), meanScore: Type.Union([Type.Number(), Type.Null()]) }),
});

export const FulfillmentMetrics = Type.Object({
  from: Type.String(),
  to: Type.String(),
  groupBy: Type.String(),
  groups: Type.Array(FulfillmentGroup),
});
