import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import SCIMMY from 'scimmy';
import { Type, type TSchema } from 'typebox';
import type { DB } from '../../db/client.js';
import { createDirectory, type DirectoryUser } from '../../directory/index.js';
import { revokeOnLeaveIn } from '../../access/grants.js';
import { endGrantTimers } from '../grant-timers.js';
import type { Config } from '../../runtime/config.js';
import { HttpProblem } from '../errors.js';
import { rerouteApprovalsOf } from '../reroute-approvals.js';
import {
  declareScimResources,
  MAX_RESULTS,
  standardPatch,
  unknownAttributes,
  type ScimContext,
} from '../scim-resources.js';
import {
  scim,
  SCIM_CONTENT_TYPE,
  ScimAttributesQuery,
  ScimDocument,
  scimErrors,
  ScimGroup,
  ScimId,
  ScimList,
  ScimListQuery,
  ScimPatchOp,
  ScimUser,
} from '../schemas/scim.js';

/** Who the audit trail names for what the identity provider changes. */
const SCIM_ACTOR = 'scim';

// Group PATCHes and creates carry whole member lists; the API's 64 KiB limit is for its own small documents.
const SCIM_BODY_LIMIT = 1024 * 1024;

type ErrorStatus = SCIMMY.Messages.ErrorResponse.ValidStatusCodes;
type ScimType = SCIMMY.Messages.ErrorResponse.ValidScimTypes;

/** A SCIM error message (RFC 7644 §3.12) through SCIMMY; a status SCIM does not list becomes a plain 500. */
function errorBody(status: number, detail: string, scimType?: string) {
  try {
    return new SCIMMY.Messages.ErrorResponse({
      status: status as ErrorStatus,
      detail,
      ...(scimType ? { scimType: scimType as ScimType } : {}),
    });
  } catch {
    return new SCIMMY.Messages.ErrorResponse({ status: 500, detail });
  }
}

// Documents go out as SCIMMY made them (URN-keyed extensions, open schemas), not through
// the response schemas' serializers, which would keep only the properties they list.
const send = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(body));

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * SCIM 2.0 provisioning (RFC 7643/7644) for the organisation's identity provider: Users
 * and Groups into the directory, plus the discovery documents. Every call carries the
 * provisioning token (SCIM_TOKEN); without one configured the whole surface answers 404.
 * Errors here are SCIM error messages, not problem+json, because that is what providers parse.
 */
const scimRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client; config: Config }> = async (
  app,
  { db, temporal, config },
) => {
  declareScimResources(`${config.publicUrl}/scim/v2`, `${config.publicUrl}/docs`);
  const directory = createDirectory({
    db,
    // Access the catalog marks revokeOnLeave ends in the deactivation's own transaction; the
    // expiry timers of time-bound grants are told once it has committed (a timer re-reads the
    // grant when it wakes, so a rolled-back change leaves it waiting as before).
    onDeactivated: async (tx, at, userId) => {
      const timed = (await revokeOnLeaveIn(tx, at, userId, 'scim'))
        .filter((r) => r.revoked && r.timed)
        .map((r) => r.grant.id);
      if (timed.length > 0) setImmediate(() => void endGrantTimers(temporal, timed, 'deactivated', app.log));
    },
  });
  const tokenHash = config.scimTokenHash ? Buffer.from(config.scimTokenHash, 'hex') : undefined;

  // SCIM's own type and plain JSON both; an empty body (a DELETE that names a content type
  // anyway, as some providers' clients do) is no body rather than a parse error.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    [SCIM_CONTENT_TYPE, 'application/json'],
    { parseAs: 'string', bodyLimit: SCIM_BODY_LIMIT },
    (request, body, done) => (body === '' ? done(null, undefined) : json(request, body as string, done)),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof SCIMMY.Types.Error) {
      if (error.status === 401) void reply.header('www-authenticate', 'Bearer realm="scim"');
      if (error.status >= 500) request.log.error({ err: error }, 'SCIM request failed');
      return send(reply, error.status, errorBody(error.status, error.message, error.scimType));
    }
    if (error instanceof HttpProblem)
      return send(reply, error.statusCode, errorBody(error.statusCode, error.message));
    if (error.validation) {
      const detail = error.validation
        .map(
          (v) => `${error.validationContext ?? 'body'}${v.instancePath || ''}: ${v.message ?? 'is invalid'}`,
        )
        .join('; ');
      return send(reply, 400, errorBody(400, `Invalid request: ${detail}`, 'invalidValue'));
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return send(reply, 413, errorBody(413, error.message));
    if (status >= 400 && status < 500) {
      // Malformed JSON, a content type that is not JSON, an empty body...
      return send(reply, 400, errorBody(400, error.message, 'invalidSyntax'));
    }
    request.log.error({ err: error }, 'SCIM request failed');
    return send(reply, 500, errorBody(500, 'Something went wrong on our side; the error was logged.'));
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, 404, errorBody(404, `No SCIM endpoint ${request.method} ${request.url.split('?')[0]}.`)),
  );

  app.addHook('onRequest', async (request) => {
    if (!tokenHash)
      throw new SCIMMY.Types.Error(
        404,
        '',
        'SCIM provisioning is not enabled on this server: set SCIM_TOKEN and give the identity provider the same token.',
      );
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    // Compared as sha256 digests: equal lengths for timingSafeEqual, and the token never sits in memory.
    if (!match?.[1] || !timingSafeEqual(sha256(match[1]), tokenHash))
      throw new SCIMMY.Types.Error(
        401,
        '',
        'Send the provisioning token as "Authorization: Bearer <SCIM_TOKEN>".',
      );
  });

  const context = (request: FastifyRequest): ScimContext => ({
    directory,
    actor: SCIM_ACTOR,
    log: request.log,
    groupsRead: new Map(),
    async onInactive(user: DirectoryUser, reason: string) {
      try {
        const moved = await rerouteApprovalsOf(db, temporal, { approver: user.id, reason });
        if (moved.length > 0) request.log.info({ user: user.id, requests: moved }, 'approvals moved on');
      } catch (err) {
        request.log.error({ err, user: user.id }, 'could not move approvals on');
        // The provider retries a failed call; the retry finds them inactive and tries again.
        throw new SCIMMY.Types.Error(
          500,
          '',
          `${user.id} is inactive, but the approvals waiting for them could not be moved on yet; send the change again.`,
        );
      }
    },
  });

  const base = { tags: ['scim'], security: [{ scimToken: [] }] };
  const consumes = [SCIM_CONTENT_TYPE, 'application/json'];
  const idParams = Type.Object({ id: ScimId });
  const deleted = { 204: { description: 'Deleted', type: 'null' } as const };

  /** Query parameters as SCIMMY's resources take them: only those given, pages within bounds. */
  const listParams = (q: {
    filter?: string;
    startIndex?: number;
    count?: number;
    attributes?: string;
    excludedAttributes?: string;
    sortBy?: string;
    sortOrder?: 'ascending' | 'descending';
  }) => ({
    ...attributeParams(q),
    ...(q.filter !== undefined ? { filter: q.filter } : {}),
    ...(q.sortBy !== undefined ? { sortBy: q.sortBy } : {}),
    ...(q.sortOrder !== undefined ? { sortOrder: q.sortOrder } : {}),
    startIndex: Math.max(1, q.startIndex ?? 1),
    count: Math.min(MAX_RESULTS, Math.max(0, q.count ?? MAX_RESULTS)),
  });
  const attributeParams = (q: { attributes?: string; excludedAttributes?: string }) => ({
    ...(q.attributes !== undefined ? { attributes: q.attributes } : {}),
    ...(q.excludedAttributes !== undefined ? { excludedAttributes: q.excludedAttributes } : {}),
  });

  /**
   * A resource for one request's query. SCIMMY parses the filter in the constructor and throws a
   * bare TypeError on some malformed ones (a lone attribute such as `userName`, or `not`), which
   * would otherwise be a 500: any non-SCIM error while parsing the query is the client's filter.
   */
  const forQuery = <R>(build: () => R, filter: string | undefined): R => {
    try {
      return build();
    } catch (err) {
      if (err instanceof SCIMMY.Types.Error) throw err;
      throw new SCIMMY.Types.Error(
        400,
        'invalidFilter',
        filter === undefined
          ? 'The attributes, excludedAttributes or sortBy parameter could not be read.'
          : `The filter ${JSON.stringify(filter)} is not a SCIM filter: write attribute operator value, e.g. userName eq "alice".`,
      );
    }
  };

  const refuseUnknown = (definition: SCIMMY.Types.SchemaDefinition, body: unknown) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
    const unknown = unknownAttributes(definition, body as Record<string, unknown>);
    if (unknown.length > 0)
      throw new SCIMMY.Types.Error(
        400,
        'invalidSyntax',
        `Unknown attribute(s) ${unknown.map((a) => `"${a}"`).join(', ')}: not in the ${definition.name} schema or its extensions.`,
      );
  };

  /** The five routes of one resource type (Users, Groups), the same shape for both. */
  function resourceRoutes(
    path: '/Users' | '/Groups',
    Resource: typeof SCIMMY.Resources.User | typeof SCIMMY.Resources.Group,
    schema: TSchema,
    noun: string,
  ) {
    const definition = Resource.schema.definition;

    app.get(
      path,
      {
        schema: {
          ...base,
          summary: `List ${noun}s, filtered (e.g. ${path === '/Users' ? 'userName eq "…"' : 'displayName eq "…"'}) and paged`,
          querystring: ScimListQuery,
          response: { 200: scim(ScimList(schema)), ...scimErrors(400) },
        },
      },
      async (request, reply) =>
        send(
          reply,
          200,
          await forQuery(() => new Resource(undefined, listParams(request.query)), request.query.filter).read(
            context(request),
          ),
        ),
    );

    app.get(
      `${path}/:id`,
      {
        schema: {
          ...base,
          summary: `One ${noun}`,
          params: idParams,
          querystring: ScimAttributesQuery,
          response: { 200: scim(schema), ...scimErrors(400) },
        },
      },
      async (request, reply) =>
        send(
          reply,
          200,
          await forQuery(
            () => new Resource(request.params.id, attributeParams(request.query)),
            undefined,
          ).read(context(request)),
        ),
    );

    app.post(
      path,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: {
          ...base,
          summary: `Provision a ${noun}`,
          consumes,
          body: schema,
          response: { 201: scim(schema), ...scimErrors(400, 409, 500) },
        },
      },
      async (request, reply) => {
        refuseUnknown(definition, request.body);
        const created = (await new Resource().write(request.body, context(request))) as {
          meta?: { location?: string };
        };
        if (created.meta?.location) void reply.header('location', created.meta.location);
        return send(reply, 201, created);
      },
    );

    app.put(
      `${path}/:id`,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: {
          ...base,
          summary: `Replace a ${noun}`,
          consumes,
          params: idParams,
          body: schema,
          response: { 200: scim(schema), ...scimErrors(400, 409, 500) },
        },
      },
      async (request, reply) => {
        refuseUnknown(definition, request.body);
        return send(reply, 200, await new Resource(request.params.id).write(request.body, context(request)));
      },
    );

    app.patch(
      `${path}/:id`,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: {
          ...base,
          summary: `Change a ${noun} with a PatchOp (Entra ID's and Okta's dialects included)`,
          consumes,
          params: idParams,
          body: ScimPatchOp,
          response: { 200: scim(schema), ...scimErrors(400, 409, 500) },
        },
      },
      async (request, reply) => {
        const ctx = context(request);
        const patched = await new Resource(request.params.id).patch(
          standardPatch(request.body) as Parameters<SCIMMY.Types.Resource['patch']>[0],
          ctx,
        );
        // SCIMMY answers nothing when the operations changed nothing; the provider still gets the resource.
        return send(reply, 200, patched ?? (await new Resource(request.params.id).read(ctx)));
      },
    );

    app.delete(
      `${path}/:id`,
      {
        schema: {
          ...base,
          summary:
            path === '/Users'
              ? 'Remove a user: deactivated and hidden, never deleted (their history stays)'
              : 'Release a group: emptied and unbound, never deleted',
          params: idParams,
          response: { ...deleted, ...scimErrors(500) },
        },
      },
      async (request, reply) => {
        await new Resource(request.params.id).dispose(context(request));
        return reply.code(204).send(null);
      },
    );
  }

  resourceRoutes('/Users', SCIMMY.Resources.User, ScimUser, 'user');
  resourceRoutes('/Groups', SCIMMY.Resources.Group, ScimGroup, 'group');

  app.get(
    '/ServiceProviderConfig',
    {
      schema: {
        ...base,
        summary: 'What this SCIM service supports (PATCH, filters; no bulk, no ETags)',
        response: { 200: scim(ScimDocument), ...scimErrors() },
      },
    },
    async (_request, reply) => send(reply, 200, await new SCIMMY.Resources.ServiceProviderConfig().read()),
  );

  for (const [path, Resource, what] of [
    ['/ResourceTypes', SCIMMY.Resources.ResourceType, 'resource types (User, Group)'],
    ['/Schemas', SCIMMY.Resources.Schema, 'schemas (User, Group, the enterprise extension)'],
  ] as const) {
    app.get(
      path,
      {
        schema: {
          ...base,
          summary: `The ${what}`,
          response: { 200: scim(ScimList(ScimDocument)), ...scimErrors() },
        },
      },
      async (_request, reply) => send(reply, 200, await new Resource().read()),
    );
    app.get(
      `${path}/:id`,
      {
        schema: {
          ...base,
          summary: `One of the ${what}`,
          params: Type.Object({ id: ScimId }),
          response: { 200: scim(ScimDocument), ...scimErrors() },
        },
      },
      async (request, reply) => send(reply, 200, await new Resource(request.params.id).read()),
    );
  }
};

export default scimRoutes;
