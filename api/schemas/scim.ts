import { Type, type TSchema } from 'typebox';

// SCIM 2.0 documents as the OpenAPI document describes them. SCIMMY validates and shapes
// the real ones (attribute names are case-insensitive, extensions are keyed by URN), so
// these stay open (additionalProperties) and list what reqflow reads and returns.

export const SCIM_CONTENT_TYPE = 'application/scim+json';

const open = { additionalProperties: true } as const;

export const ScimId = Type.String({ minLength: 1, maxLength: 256, description: 'The SCIM id (reqflow id)' });

export const ScimError = Type.Object(
  {
    schemas: Type.Array(Type.Literal('urn:ietf:params:scim:api:messages:2.0:Error')),
    status: Type.String({ description: 'The HTTP status, as a string (RFC 7644 §3.12)' }),
    scimType: Type.Optional(
      Type.String({ description: 'invalidSyntax, invalidValue, invalidFilter, invalidPath, uniqueness, …' }),
    ),
    detail: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Meta = Type.Object(
  {
    resourceType: Type.String(),
    created: Type.Optional(Type.String({ format: 'date-time' })),
    lastModified: Type.Optional(Type.String({ format: 'date-time' })),
    location: Type.Optional(Type.String()),
  },
  open,
);

const Schemas = Type.Array(Type.String());

export const ScimUser = Type.Object(
  {
    schemas: Type.Optional(Schemas),
    id: Type.Optional(Type.String({ description: "reqflow's id: the userName's local part, made unique" })),
    externalId: Type.Optional(Type.String({ description: "The identity provider's id for the person" })),
    userName: Type.Optional(Type.String({ description: 'Unique (case-insensitive); required on create' })),
    displayName: Type.Optional(Type.String()),
    name: Type.Optional(
      Type.Object(
        {
          formatted: Type.Optional(Type.String()),
          givenName: Type.Optional(Type.String()),
          familyName: Type.Optional(Type.String()),
        },
        open,
      ),
    ),
    title: Type.Optional(
      Type.String({ description: 'Names a reqflow role (id or name); returned as the role reqflow gave' }),
    ),
    active: Type.Optional(
      Type.Boolean({ description: 'false deactivates: approvals move on, no more mail' }),
    ),
    emails: Type.Optional(
      Type.Array(
        Type.Object(
          {
            value: Type.String(),
            type: Type.Optional(Type.String()),
            primary: Type.Optional(Type.Boolean()),
          },
          open,
        ),
      ),
    ),
    roles: Type.Optional(
      Type.Array(
        Type.Object({ value: Type.Optional(Type.String()), primary: Type.Optional(Type.Boolean()) }, open),
        { description: 'The primary (else first) value naming a reqflow role wins over title' },
      ),
    ),
    groups: Type.Optional(
      Type.Array(Type.Object({ value: Type.String(), display: Type.Optional(Type.String()) }, open), {
        description: 'Read-only: the provisioned groups the person is in',
      }),
    ),
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': Type.Optional(
      Type.Object(
        {
          manager: Type.Optional(
            Type.Object(
              { value: Type.Optional(Type.String({ description: "The manager's SCIM id" })) },
              open,
            ),
          ),
        },
        open,
      ),
    ),
    meta: Type.Optional(Meta),
  },
  open,
);

export const ScimGroup = Type.Object(
  {
    schemas: Type.Optional(Schemas),
    id: Type.Optional(Type.String()),
    externalId: Type.Optional(Type.String()),
    displayName: Type.Optional(Type.String({ description: 'Required on create' })),
    members: Type.Optional(
      Type.Array(
        Type.Object(
          {
            value: Type.String({ description: "A user's SCIM id" }),
            display: Type.Optional(Type.String()),
            type: Type.Optional(Type.String()),
          },
          open,
        ),
      ),
    ),
    meta: Type.Optional(Meta),
  },
  open,
);

export const ScimPatchOp = Type.Object(
  {
    schemas: Type.Array(Type.String(), {
      description: '["urn:ietf:params:scim:api:messages:2.0:PatchOp"]',
    }),
    Operations: Type.Array(
      Type.Object(
        {
          op: Type.String({ description: 'add, remove or replace (any case)' }),
          path: Type.Optional(Type.String()),
          value: Type.Optional(Type.Unknown()),
        },
        open,
      ),
    ),
  },
  open,
);

export function ScimList<T extends TSchema>(resource: T) {
  return Type.Object(
    {
      schemas: Schemas,
      totalResults: Type.Integer(),
      startIndex: Type.Integer(),
      itemsPerPage: Type.Integer(),
      Resources: Type.Array(resource),
    },
    open,
  );
}

export const ScimListQuery = Type.Object({
  filter: Type.Optional(
    Type.String({
      description: 'e.g. userName eq "alice@example.com", externalId eq "…", displayName eq "…"',
    }),
  ),
  startIndex: Type.Optional(Type.Integer({ description: '1-based' })),
  count: Type.Optional(Type.Integer({ description: 'Page size (at most 200)' })),
  attributes: Type.Optional(Type.String()),
  excludedAttributes: Type.Optional(Type.String()),
  sortBy: Type.Optional(Type.String()),
  sortOrder: Type.Optional(Type.Union([Type.Literal('ascending'), Type.Literal('descending')])),
});

export const ScimAttributesQuery = Type.Object({
  attributes: Type.Optional(Type.String()),
  excludedAttributes: Type.Optional(Type.String()),
});

/** Any SCIM document the discovery endpoints answer with (SCIMMY builds them). */
export const ScimDocument = Type.Object({ schemas: Schemas }, open);

/** A response of `schema` in SCIM's content type. */
export const scim = (schema: TSchema) => ({ content: { [SCIM_CONTENT_TYPE]: { schema } } });

const error = scim(ScimError);

/**
 * SCIM errors for the given statuses; every SCIM route may answer 401 and 404 (provisioning
 * off). Writes list 500: a deactivation whose approvals could not be moved on yet says so.
 */
export function scimErrors<const C extends number>(...codes: C[]) {
  return Object.fromEntries([401, 404, ...codes].map((code) => [code, error])) as Record<
    C | 401 | 404,
    typeof error
  >;
}
