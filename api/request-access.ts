import { and, eq, inArray, or } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { Config } from '../runtime/config.js';
import { actingFor } from './decide.js';
import type { UserPrincipal } from './plugins/auth.js';
import type { RequestView } from './schemas/requests.js';

type RequestRow = typeof t.requests.$inferSelect;

/**
 * Who may see a request: its requester, its beneficiary, operators, its approvers
 * (and, while the approval is pending, their delegates), and the fulfillment groups or people
 * that hold a task on it. Everyone else gets a 404, so the existence of someone else's request
 * is not disclosed. A delegate stands in for pending decisions only, not for the history of
 * what the approver decided.
 */
export function canSee(db: DB, user: UserPrincipal, row: RequestRow): boolean {
  if (user.isOperator || row.requesterId === user.id || row.beneficiaryId === user.id) return true;
  const approver = db
    .select({ id: t.approvalTasks.id })
    .from(t.approvalTasks)
    .where(
      and(
        eq(t.approvalTasks.requestId, row.id),
        or(
          eq(t.approvalTasks.approverId, user.id),
          eq(t.approvalTasks.decidedBy, user.id),
          and(
            eq(t.approvalTasks.state, 'pending'),
            inArray(t.approvalTasks.approverId, actingFor(db, user.id)),
          ),
        ),
      ),
    )
    .get();
  if (approver) return true;
  const task = db
    .select({ id: t.tasks.id })
    .from(t.tasks)
    .where(
      and(
        eq(t.tasks.requestId, row.id),
        or(
          inArray(t.tasks.groupId, user.groups.length ? user.groups : ['']),
          eq(t.tasks.assigneeId, user.id),
        ),
      ),
    )
    .get();
  return task !== undefined;
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
