import { MAX_OFFSET } from './common.js';
import { Type, type Static } from 'typebox';
import { RequestId } from './requests.js';

export const AuditQuery = Type.Object(
  {
    requestId: Type.Optional(RequestId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const AuditEntry = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  at: Type.String({ description: 'ISO-8601 UTC' }),
  actor: Type.String(),
  action: Type.String(),
  requestId: Nullable(Type.String()),
  subject: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
  prevHash: Type.String({ description: 'sha256 of the previous entry (64 zeros for the first)' }),
  hash: Type.String({ description: 'sha256 over this entry and prevHash' }),
});

export const AuditTrail = Type.Object({ items: Type.Array(AuditEntry) });

export const AuditChainStatus = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    entries: Type.Integer(),
    lastHash: Type.String({
      description: 'Record it elsewhere: a chain cannot see its own newest entries cut off',
    }),
  }),
  Type.Object({
    ok: Type.Literal(false),
    entries: Type.Integer({ description: 'Entries that checked out before the break' }),
    brokenAt: Type.Integer({ description: 'seq of the first missing, changed or re-chained entry' }),
    reason: Type.String(),
  }),
]);
