import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { findRequest } from '../../requests/index.js';
import { createAccessGrants, type GrantRow } from '../../access/grants.js';
import { conflict, forbidden, notFound } from '../errors.js';
import { endGrantTimers } from '../grant-timers.js';
import type { UserPrincipal } from '../plugins/auth.js';
import { toView } from '../request-access.js';
import {
  GrantList,
  GrantParams,
  GrantView,
  ListGrantsQuery,
  RenewGrantBody,
  RevokeGrantBody,
} from '../schemas/access.js';
import { authProblems, problemRef } from '../schemas/common.js';
import { CreateRequestHeaders, RequestView } from '../schemas/requests.js';
import { requestIdFor, submitRequest, type SubmitDeps } from '../submit-request.js';

/** Operators run access; auditors check it: both see every grant. Everyone else sees their own. */
const seesAll = (user: UserPrincipal) => user.isOperator || user.groups.includes('auditors');

export function grantView(g: GrantRow): GrantView {
  const active = g.endedAt === null;
  return {
    id: g.id,
    requestId: g.requestId,
    securityGroup: g.groupId,
    user: g.userId,
    catalogItemId: g.catalogItemId,
    approvedBy: g.approvedBy,
    approvedAt: g.approvedAt,
    justification: g.justification,
    grantedAt: g.grantedAt,
    until: g.until,
    revokeOnLeave: g.revokeOnLeave,
    renewalOf: g.renewalOf,
    state: active ? 'active' : 'ended',
    ended:
      g.endedAt && g.endReason
        ? {
            at: g.endedAt,
            reason: g.endReason,
            by: g.endedBy,
            comment: g.endComment,
            auditSeq: g.endAuditSeq,
          }
        : null,
    grantAuditSeq: g.grantAuditSeq,
    links: {
      ...(g.requestId ? { request: `/api/requests/${g.requestId}` } : {}),
      ...(active && g.until && g.catalogItemId ? { renew: `/api/access/grants/${g.id}/renewal` } : {}),
    },
  };
}

/**
 * Access grants as records: who holds what, approved by whom, until when and how it ended.
 * Operators revoke early; a holder renews a time-bound grant through a new request.
 */
const accessGrantRoutes: FastifyPluginAsyncTypebox<SubmitDeps> = async (app, deps) => {
  const { db, temporal, config } = deps;
  const grants = createAccessGrants({ db });
  app.addHook('preHandler', app.authenticate);
  const base = { tags: ['access'], security: [{ bearerAuth: [] }] };

  /** The grant, if the caller may see it; anyone else's is a 404 (its existence is not theirs to know). */
  async function visible(user: UserPrincipal, id: string): Promise<GrantRow> {
    const g = await grants.get(id);
    if (!g || (!seesAll(user) && g.userId !== user.id)) throw notFound(`No access grant ${id}.`);
    return g;
  }

  app.get(
    '/',
    {
      schema: {
        ...base,
        summary: 'Access grants: mine; operators and auditors all (filter by user, group, expiring before)',
        querystring: ListGrantsQuery,
        response: { 200: GrantList, ...authProblems },
      },
    },
    async (request) => {
      const { user, group, expiringBefore, state, limit = 100, offset = 0 } = request.query;
      const me = request.principal;
      if (user && user !== me.id && !seesAll(me)) {
        throw forbidden("Only operators and auditors see other people's access.");
      }
      const rows = await grants.list({
        userId: seesAll(me) ? user : me.id,
        ...(group ? { groupId: group } : {}),
        ...(expiringBefore ? { expiringBefore: new Date(expiringBefore).toISOString() } : {}),
        ...(state ? { state } : {}),
        limit: limit + offset,
      });
      return { items: rows.slice(offset).map(grantView) };
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        ...base,
        summary: 'One access grant (its holder, operators, auditors)',
        params: GrantParams,
        response: { 200: GrantView, ...authProblems, 404: problemRef },
      },
    },
    async (request) => grantView(await visible(request.principal, request.params.id)),
  );

  app.post(
    '/:id/revoke',
    {
      schema: {
        ...base,
        summary: 'Revoke a grant now (operators): the membership goes, audited; its expiry timer stops',
        params: GrantParams,
        body: RevokeGrantBody,
        response: { 200: GrantView, ...authProblems, 404: problemRef, 409: problemRef },
      },
    },
    async (request) => {
      const me = request.principal;
      const g = await visible(me, request.params.id);
      if (!me.isOperator) throw forbidden('Only operators revoke access.');
      if (g.endedAt) throw conflict(`Grant ${g.id} already ended (${g.endReason}) at ${g.endedAt}.`);
      const r = await grants.revoke({
        grantId: g.id,
        reason: 'revoked',
        by: me.id,
        ...(request.body.comment ? { comment: request.body.comment } : {}),
      });
      // Lost a race with its expiry, a review or a deactivation: that one revoked it.
      if (!r?.revoked) throw conflict(`Grant ${g.id} already ended.`);
      if (r.timed) await endGrantTimers(temporal, [g.id], 'revoked', request.log);
      return grantView(r.grant);
    },
  );

  app.post(
    '/:id/renewal',
    {
      schema: {
        ...base,
        summary: 'Renew a time-bound grant (its holder): a new request pre-filled from this one',
        description:
          "The new request names the same item, beneficiary and justification and goes through the item's renewal approval policy (or its approval policy). " +
          'Once granted it takes over the membership, and this grant ends as renewed.',
        params: GrantParams,
        headers: CreateRequestHeaders,
        body: RenewGrantBody,
        response: {
          202: RequestView,
          ...authProblems,
          404: problemRef,
          409: problemRef,
          422: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      const me = request.principal;
      const g = await grants.get(request.params.id);
      // Renewing is the holder's to ask; nobody else learns the grant exists.
      if (!g || g.userId !== me.id) throw notFound(`No access grant ${request.params.id} of yours.`);
      if (g.endedAt || !g.until || !g.catalogItemId) {
        throw conflict(
          g.endedAt
            ? `Grant ${g.id} ended (${g.endReason}); request the access again from the catalog.`
            : `Grant ${g.id} does not end, so there is nothing to renew.`,
        );
      }
      // A retry with the same Idempotency-Key gets the renewal it made, whatever the default end is now.
      const key = request.headers['idempotency-key'];
      const made = key ? await findRequest(db, requestIdFor(me.id, key)) : undefined;
      if (made?.renewalOf === g.id) {
        const view = toView(config, made);
        return reply.code(202).header('location', view.links.self).send(view);
      }
      // By default as long as the grant was given for, from now (the item's maxDuration counts from now too).
      const span = Date.parse(g.until) - Date.parse(g.grantedAt);
      const accessUntil = request.body.accessUntil ?? new Date(Date.now() + span).toISOString();
      const justification = request.body.justification ?? g.justification ?? undefined;
      const { row } = await submitRequest(
        deps,
        me,
        { catalogItemId: g.catalogItemId, accessUntil, ...(justification ? { justification } : {}) },
        key,
        g.id,
      );
      const view = toView(config, row);
      return reply.code(202).header('location', view.links.self).send(view);
    },
  );
};

export default accessGrantRoutes;
