import { Type, type Static } from 'typebox';
import { CHANGE_MODELS, REQUEST_TYPES } from '../domain/status.js';

// The shapes of the catalog files. The API documents the same FormField (GET /api/catalog/:id),
// so what a file may say and what a portal receives cannot drift apart.

const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'lower case, digits and -' });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Duration = Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$', description: 'e.g. "90s", "4h", "2d"' });
const strict = { additionalProperties: false } as const;

export const FORM_FIELD_TYPES = ['text', 'textarea', 'device', 'select', 'date'] as const;

/** One input of an item's form. `options` for a select; `maxLength` and `pattern` bound text. */
export const FormField = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' }),
    label: Text(200),
    type: Type.Enum(FORM_FIELD_TYPES),
    required: Type.Boolean(),
    options: Type.Optional(Type.Array(Text(200), { minItems: 1, maxItems: 100 })),
    maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 4000 })),
    pattern: Type.Optional(Text(500)),
    help: Type.Optional(Text(1000)),
  },
  strict,
);
export type FormField = Static<typeof FormField>;

/** The ApprovalGate's vocabulary: levels in order, each a manager, the owner or a group with a quorum. */
export const ApprovalLevel = Type.Union([
  Type.Object({ kind: Type.Literal('manager') }, strict),
  Type.Object({ kind: Type.Literal('owner') }, strict),
  Type.Object(
    {
      kind: Type.Literal('group'),
      groupId: Id,
      quorum: Type.Union([Type.Literal('any'), Type.Literal('all'), Type.Integer({ minimum: 1 })]),
    },
    strict,
  ),
]);

/**
 * How long an access item may be held: `choices` the portal offers, `untilDate` a day of the
 * person's choosing, `maxDuration` caps both, `required` refuses a request without an end.
 */
export const AccessDurationDoc = Type.Object(
  {
    maxDuration: Type.Optional(Duration),
    choices: Type.Optional(Type.Array(Duration, { minItems: 1, maxItems: 20 })),
    untilDate: Type.Optional(Type.Boolean()),
    required: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const CatalogItemDoc = Type.Object(
  {
    kind: Type.Literal('CatalogItem'),
    id: Id,
    name: Text(200),
    type: Type.Enum(REQUEST_TYPES),
    category: Text(100),
    description: Text(2000),
    /** Other words people search with ("diagram", "flowchart"). */
    aliases: Type.Optional(Type.Array(Text(100), { maxItems: 50 })),
    sensitivity: Type.Optional(Type.Enum(['normal', 'sensitive'])),
    formFields: Type.Optional(Type.Array(FormField, { maxItems: 50 })),
    changeModel: Type.Optional(Type.Enum(CHANGE_MODELS)),
    approvalPolicy: Type.Optional(Type.Array(ApprovalLevel, { maxItems: 10 })),
    sla: Type.Optional(
      Type.Object({ request: Duration, humanStep: Type.Optional(Duration), warnBefore: Duration }, strict),
    ),
    fulfillmentTarget: Type.Optional(Duration),
    fulfillmentGroup: Type.Optional(Id),
    serviceOwner: Type.Optional(Text(100)),
    package: Type.Optional(Id),
    licensePool: Type.Optional(Id),
    allowedRoles: Type.Optional(Type.Array(Text(100), { minItems: 1, maxItems: 50 })),
    securityGroup: Type.Optional(Text(200)),
    /** Access items: how long a grant may last; the request's accessUntil is checked against it. */
    accessDuration: Type.Optional(AccessDurationDoc),
    /** Access items: deactivation in the directory revokes the grant. */
    revokeOnLeave: Type.Optional(Type.Boolean()),
    /** Access items: a shorter policy for renewals (default: approvalPolicy). */
    renewalApprovalPolicy: Type.Optional(Type.Array(ApprovalLevel, { maxItems: 10 })),
    launchUrl: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2000 })),
    unitCostCents: Type.Optional(Type.Integer({ minimum: 0 })),
    bundle: Type.Optional(
      Type.Array(
        Type.Object(
          {
            item: Id,
            fields: Type.Optional(
              Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 4000 })),
            ),
          },
          strict,
        ),
        { minItems: 1, maxItems: 20 },
      ),
    ),
  },
  strict,
);

export const PackageDoc = Type.Object(
  {
    kind: Type.Literal('Package'),
    id: Id,
    name: Text(200),
    /** The deployment package's folder (manifest.json and scripts), relative to this file. */
    folder: Text(1000),
  },
  strict,
);

export const LicensePoolDoc = Type.Object(
  { kind: Type.Literal('LicensePool'), id: Id, product: Text(200), seats: Type.Integer({ minimum: 0 }) },
  strict,
);

export const SecurityGroupDoc = Type.Object(
  {
    kind: Type.Literal('SecurityGroup'),
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$' }),
    name: Text(200),
    description: Text(2000),
  },
  strict,
);

export const ServiceDoc = Type.Object(
  {
    kind: Type.Literal('Service'),
    id: Id,
    name: Text(200),
    owner: Text(100),
    aliases: Type.Optional(Type.Array(Text(100), { maxItems: 50 })),
  },
  strict,
);

export const FulfillmentGroupDoc = Type.Object(
  { kind: Type.Literal('FulfillmentGroup'), id: Id, name: Text(200) },
  strict,
);

/** The front matter of a knowledge article (the Markdown below it is the body). */
export const KnowledgeArticleDoc = Type.Object(
  {
    kind: Type.Optional(Type.Literal('KnowledgeArticle')),
    id: Type.String({ pattern: '^[A-Z0-9][A-Z0-9-]{0,99}$' }),
    title: Text(300),
    tags: Type.Optional(Type.Array(Text(100), { maxItems: 50 })),
  },
  strict,
);

export const DOCUMENT_SCHEMAS = {
  CatalogItem: CatalogItemDoc,
  Package: PackageDoc,
  LicensePool: LicensePoolDoc,
  SecurityGroup: SecurityGroupDoc,
  Service: ServiceDoc,
  FulfillmentGroup: FulfillmentGroupDoc,
} as const;
export type DocumentKind = keyof typeof DOCUMENT_SCHEMAS;

export type CatalogItemDoc = Static<typeof CatalogItemDoc>;
export type PackageDoc = Static<typeof PackageDoc>;
export type LicensePoolDoc = Static<typeof LicensePoolDoc>;
export type SecurityGroupDoc = Static<typeof SecurityGroupDoc>;
export type ServiceDoc = Static<typeof ServiceDoc>;
export type FulfillmentGroupDoc = Static<typeof FulfillmentGroupDoc>;
export type KnowledgeArticleDoc = Static<typeof KnowledgeArticleDoc>;
