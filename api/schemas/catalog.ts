import { Type, type Static } from 'typebox';
import { CHANGE_KINDS } from '../../service-catalog/plan.js';
import { AccessDurationDoc, ApprovalLevel, FormField } from '../../service-catalog/schemas.js';
import { REQUEST_TYPES } from '../../domain/status.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const CatalogItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.Enum(REQUEST_TYPES),
  category: Type.String(),
  description: Type.String(),
  sensitivity: Type.Enum(['normal', 'sensitive']),
  changeModel: Nullable(Type.Enum(['standard', 'normal'])),
  allowedRoles: Nullable(Type.Array(Type.String())),
  /** Whether the caller's role may order it. */
  entitled: Type.Boolean(),
  /** The form the portal renders; the catalog files' FormField, so every field type here is one a file may use. */
  formFields: Type.Array(FormField),
  /** The current version; a request records the one it was submitted against. */
  version: Type.Integer(),
});

export const CatalogItemDetail = Type.Object({
  ...CatalogItem.properties,
  aliases: Type.Array(Type.String()),
  /** False once the item left the catalog files: it stays readable for the requests made against it. */
  active: Type.Boolean(),
  approvalPolicy: Type.Array(ApprovalLevel, { description: 'Who approves, level by level; empty: nobody' }),
  sla: Nullable(
    Type.Object({
      request: Type.String(),
      humanStep: Type.Optional(Type.String()),
      warnBefore: Type.String(),
    }),
  ),
  /** For a bundle: the items it orders together. */
  bundle: Nullable(Type.Array(Type.Object({ catalogItemId: Type.String() }))),
  /** Access items: how long access may be held (null: standing access); the request's accessUntil is checked against it. */
  accessDuration: Nullable(AccessDurationDoc),
  /** Access items: a person deactivated in the directory loses it. */
  revokeOnLeave: Type.Boolean(),
  /** Access items: who approves a renewal (null: the approval policy). */
  renewalApprovalPolicy: Nullable(Type.Array(ApprovalLevel)),
});

export const CatalogListQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'Words that must all occur in the name, description, category or aliases',
      }),
    ),
    category: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const CatalogList = Type.Object({
  items: Type.Array(CatalogItem),
  /** Categories of the items matching `q`, with how many each holds. */
  categories: Type.Array(Type.Object({ name: Type.String(), count: Type.Integer() })),
});

export const CatalogItemParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export const CatalogItemQuery = Type.Object(
  { version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) },
  { additionalProperties: false },
);

export const CatalogReloadResult = Type.Object({
  changes: Type.Array(
    Type.Object({
      kind: Type.Enum(CHANGE_KINDS),
      id: Type.String(),
      op: Type.Enum(['added', 'changed', 'retired']),
      file: Type.Optional(Type.String()),
      fields: Type.Optional(
        Type.Array(Type.Object({ field: Type.String(), from: Type.Unknown(), to: Type.Unknown() })),
      ),
    }),
  ),
  /** The same changes as `npm run catalog -- diff` prints them. */
  summary: Type.String(),
});
export type CatalogItemDetail = Static<typeof CatalogItemDetail>;
