import { Type } from 'typebox';

export const DecisionBody = Type.Object(
  {
    decision: Type.Enum(['approve', 'deny']),
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const PendingApproval = Type.Object({
  requestId: Type.String(),
  level: Type.Integer(),
  /** The approver this decision is for: the caller, or someone who delegated to the caller. */
  approver: Type.String(),
  requester: Type.String(),
  beneficiary: Type.String(),
  catalogItemId: Type.String(),
  itemName: Type.String(),
  justification: Type.Union([Type.String(), Type.Null()]),
  waitingSince: Type.String(),
  links: Type.Object({ request: Type.String(), decide: Type.String() }),
});

export const DelegationBody = Type.Object(
  {
    delegateId: Type.String({ minLength: 1, maxLength: 100 }),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const Delegation = Type.Object({
  userId: Type.String(),
  delegateId: Type.String(),
  until: Type.Union([Type.String(), Type.Null()]),
});
