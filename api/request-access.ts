import type { DB } from '../db/client.js';
import { findRequest, findVisibleRequest, type RequestRow } from '../requests/index.js';
import type { Config } from '../runtime/config.js';
import { notFound } from './errors.js';
import type { UserPrincipal } from './plugins/auth.js';
import type { RequestView } from './schemas/requests.js';

/**
 * The request `id` as `user` may see it. Everyone who may not gets the same 404 as for a
 * request that does not exist, so the existence of someone else's request is not disclosed.
 */
export async function visibleRequest(db: DB, user: UserPrincipal, id: string): Promise<RequestRow> {
  const row = await findVisibleRequest(db, user, id);
  if (!row) throw notFound(`Request ${id} not found.`);
  return row;
}

/** The request as it is now, after a change the caller made to it (it exists: the caller just read it). */
export async function currentRequest(db: DB, id: string): Promise<RequestRow> {
  const row = await findRequest(db, id);
  if (!row) throw new Error(`request ${id} vanished`);
  return row;
}

export function toView(config: Config, row: RequestRow): RequestView {
  return {
    id: row.id,
    type: row.type,
    catalogItemId: row.catalogItemId,
    catalogItemVersion: row.catalogItemVersion,
    requester: row.requesterId,
    beneficiary: row.beneficiaryId,
    deviceId: row.deviceId,
    justification: row.justification,
    ...(row.type === 'access' ? { accessUntil: row.accessUntil, renewalOf: row.renewalOf } : {}),
    status: row.status,
    steps: row.steps,
    waitingOn: row.waitingOn ?? null,
    approvals: row.approvals,
    outcome: row.outcome ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    fulfilledAt: row.fulfilledAt,
    parentId: row.parentId,
    links: {
      self: `/api/requests/${row.id}`,
      temporalUi: `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(row.id)}`,
      catalogItem: `/api/catalog/${encodeURIComponent(row.catalogItemId)}${row.catalogItemVersion ? `?version=${row.catalogItemVersion}` : ''}`,
    },
  };
}
