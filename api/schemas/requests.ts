import { MAX_OFFSET } from './common.js';
import { Type, type Static } from 'typebox';
import { REQUEST_STATUSES, REQUEST_TYPES, STEP_KINDS, STEP_STATES } from '../../domain/status.js';

export const RequestId = Type.String({
  pattern: '^REQ-[0-9A-Z]{4,40}$',
  description: 'Request id, also the workflow id',
});

export const CreateRequestBody = Type.Object(
  {
    catalogItemId: Type.String({ minLength: 1, maxLength: 100 }),
    deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    justification: Type.Optional(Type.String({ maxLength: 2000 })),
    onBehalfOf: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    accessUntil: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          "Access items: when the access ends (ISO-8601). Checked against the item's accessDuration; required when the item says so.",
      }),
    ),
    fields: Type.Optional(
      Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 4000 }), { maxProperties: 50 }),
    ),
  },
  { additionalProperties: false },
);
export type CreateRequestBody = Static<typeof CreateRequestBody>;

export const CreateRequestHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7E]+$',
      description: 'Retries with the same key return the same request',
    }),
  ),
});

const Step = Type.Object({
  name: Type.String(),
  kind: Type.Enum(STEP_KINDS, {
    description: 'Who or what does the step: the system, a person, the device, or nobody (a wait)',
  }),
  state: Type.Enum(STEP_STATES),
  startedAt: Type.String(),
  endedAt: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
  attempt: Type.Optional(Type.Integer()),
});

const Approval = Type.Object({
  kind: Type.String(),
  approver: Type.String(),
  decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
  comment: Type.Optional(Type.String()),
  decidedAt: Type.String(),
  onBehalfOf: Type.Optional(Type.String()),
  via: Type.Optional(Type.String()),
});

const Outcome = Type.Object({
  message: Type.String(),
  reason: Type.Optional(Type.String()),
  launchUrl: Type.Optional(Type.String()),
  surveyUrl: Type.Optional(Type.String()),
  taskId: Type.Optional(Type.String()),
  changeId: Type.Optional(Type.String()),
});

export const RequestView = Type.Object({
  id: Type.String(),
  type: Type.Enum(REQUEST_TYPES),
  catalogItemId: Type.String(),
  catalogItemVersion: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'The version of the catalog item the request was submitted against: its approval policy, form and SLA as they were then ' +
      '(links.catalogItem shows it). Null for requests from before item versions.',
  }),
  requester: Type.String(),
  beneficiary: Type.String(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  justification: Type.Union([Type.String(), Type.Null()]),
  /** Access requests: when the access ends; null: standing access. */
  accessUntil: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** Access requests: the grant this request renews. */
  renewalOf: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  status: Type.Enum(REQUEST_STATUSES),
  steps: Type.Array(Step),
  waitingOn: Type.Union([
    Type.Object({
      what: Type.String(),
      who: Type.Array(Type.String(), {
        description:
          'user ids; `group:<id>` for a group, `device:<id>` for a device, `request:<id>` for the item requests of a bundle',
      }),
      since: Type.String(),
    }),
    Type.Null(),
  ]),
  approvals: Type.Array(Approval),
  outcome: Type.Union([Outcome, Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  fulfilledAt: Type.Union([Type.String(), Type.Null()]),
  /** The bundle this request is part of. */
  parentId: Type.Union([Type.String(), Type.Null()]),
  /** For a bundle: its item requests and where each stands. */
  children: Type.Optional(
    Type.Array(
      Type.Object({ id: Type.String(), catalogItemId: Type.String(), status: Type.Enum(REQUEST_STATUSES) }),
    ),
  ),
  links: Type.Object({
    self: Type.String(),
    temporalUi: Type.String(),
    /** The catalog item as it was when the request was submitted (GET /api/catalog/:id?version=). */
    catalogItem: Type.String(),
  }),
});
export type RequestView = Static<typeof RequestView>;

export const ListRequestsQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(REQUEST_STATUSES)),
    type: Type.Optional(Type.Enum(REQUEST_TYPES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
  },
  { additionalProperties: false },
);
