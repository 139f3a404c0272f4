import { MAX_OFFSET } from './common.js';
import { Type } from 'typebox';
import { MONTH_PATTERN } from '../../metrics/fulfillment.js';
import { FulfillmentGroup } from './metrics.js';

export const ReportParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'RPT-YYYY-MM' }) });

export const ListReportsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 120, default: 24 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
  },
  { additionalProperties: false },
);

export const BackfillReportBody = Type.Object(
  {
    period: Type.String({
      pattern: MONTH_PATTERN,
      description: 'A UTC calendar month that is over, YYYY-MM',
    }),
  },
  { additionalProperties: false },
);

const Comparison = Type.Object({
  catalogItemId: Type.String(),
  name: Type.String(),
  type: Type.String(),
  serviceOwnerId: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.String(), Type.Null()], { description: 'The goal set on the item, e.g. "1h"' }),
  targetMs: Type.Union([Type.Integer(), Type.Null()]),
  fulfilled: Type.Integer(),
  meanMs: Type.Union([Type.Integer(), Type.Null()]),
  met: Type.Union([Type.Boolean(), Type.Null()], {
    description: 'Mean at or under the goal; null without a goal or without fulfilled requests',
  }),
  text: Type.String({
    description: 'e.g. "Microsoft Visio (standard_service): mean 4 h, goal 1 h — 3 h over"',
  }),
});

export const MonthlyReportBody = Type.Object({
  period: Type.String(),
  from: Type.String(),
  to: Type.String(),
  byType: Type.Array(FulfillmentGroup),
  byCatalogItem: Type.Array(FulfillmentGroup),
  comparisons: Type.Array(Comparison),
});

const summaryFields = {
  id: Type.String(),
  period: Type.String({ description: 'YYYY-MM (UTC)' }),
  from: Type.String(),
  to: Type.String(),
  generatedBy: Type.String({ description: '`schedule`, or the operator who asked for it' }),
  generatedAt: Type.String(),
  workflowId: Type.String(),
  fulfilled: Type.Integer({ description: 'Requests fulfilled in the month' }),
  goalsMet: Type.Integer(),
  goalsMissed: Type.Integer(),
  links: Type.Object({ self: Type.String() }),
};

export const ReportSummary = Type.Object(summaryFields);
export const ReportList = Type.Object({ items: Type.Array(ReportSummary) });
export const Report = Type.Object({ ...summaryFields, body: MonthlyReportBody });
