import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { actingFor } from '../approvals/delegations.js';
import { preparedQuery, type DB, type Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import type { UserPrincipal } from '../directory/sign-in.js';
import type { RequestSnapshot } from '../domain/request.js';

/*
 * The requests aggregate: it alone writes the `requests` table (the submitted row, the
 * workflow's projection, an undone bundle item) and owns reading a request by id and who
 * may see it. Routes and activities call it instead of querying `requests` themselves.
 * Every query is awaited, so the same code runs on SQLite and PostgreSQL. The `...In(tx)`
 * writers take the caller's transaction, so their write commits with it or not at all.
 */

export type RequestRow = typeof t.requests.$inferSelect;
/** Who is looking: a signed-in person, with their fulfillment groups. */
export type Viewer = Pick<UserPrincipal, 'id' | 'isOperator' | 'groups'>;

/** The database or a transaction on it. */
async function byId(db: DB | Tx, id: string): Promise<RequestRow | undefined> {
  const [row] = await db.select().from(t.requests).where(eq(t.requests.id, id)).limit(1);
  return row;
}

const requestById = preparedQuery((db) =>
  db
    .select()
    .from(t.requests)
    .where(eq(t.requests.id, sql.placeholder('id')))
    .limit(1)
    .prepare(),
);

export async function findRequest(db: DB, id: string): Promise<RequestRow | undefined> {
  const [row] = await requestById(db, { id });
  return row;
}

/** The request and the name of the catalog item it was made for (messages and pages name it). */
export async function findRequestWithItem(
  db: DB,
  id: string,
): Promise<{ req: RequestRow; itemName: string } | undefined> {
  const [found] = await db
    .select({ req: t.requests, itemName: t.catalogItems.name })
    .from(t.requests)
    .innerJoin(t.catalogItems, eq(t.catalogItems.id, t.requests.catalogItemId))
    .where(eq(t.requests.id, id))
    .limit(1);
  return found;
}

/**
 * Who may see a request: its requester, its beneficiary, operators, its approvers
 * (and, while the approval is pending, their delegates), and the fulfillment groups or people
 * that hold a task on it. A delegate stands in for pending decisions only, not for the
 * history of what the approver decided.
 */
export async function canSeeRequest(db: DB, viewer: Viewer, row: RequestRow): Promise<boolean> {
  if (viewer.isOperator || row.requesterId === viewer.id || row.beneficiaryId === viewer.id) return true;
  const [approver] = await db
    .select({ id: t.approvalTasks.id })
    .from(t.approvalTasks)
    .where(
      and(
        eq(t.approvalTasks.requestId, row.id),
        or(
          eq(t.approvalTasks.approverId, viewer.id),
          eq(t.approvalTasks.decidedBy, viewer.id),
          and(
            eq(t.approvalTasks.state, 'pending'),
            inArray(t.approvalTasks.approverId, await actingFor(db, viewer.id)),
          ),
        ),
      ),
    )
    .limit(1);
  if (approver) return true;
  const [task] = await db
    .select({ id: t.tasks.id })
    .from(t.tasks)
    .where(
      and(
        eq(t.tasks.requestId, row.id),
        or(
          inArray(t.tasks.groupId, viewer.groups.length ? [...viewer.groups] : ['']),
          eq(t.tasks.assigneeId, viewer.id),
        ),
      ),
    )
    .limit(1);
  return task !== undefined;
}

/** The request if `viewer` may see it; otherwise nothing, whether it exists or not. */
export async function findVisibleRequest(
  db: DB,
  viewer: Viewer,
  id: string,
): Promise<RequestRow | undefined> {
  const row = await findRequest(db, id);
  return row && (await canSeeRequest(db, viewer, row)) ? row : undefined;
}

/** The items of a bundle, in id order. */
const childRequests = preparedQuery((db) =>
  db
    .select({ id: t.requests.id, catalogItemId: t.requests.catalogItemId, status: t.requests.status })
    .from(t.requests)
    .where(eq(t.requests.parentId, sql.placeholder('parentId')))
    .orderBy(t.requests.id)
    .prepare(),
);

export async function listChildRequests(db: DB, parentId: string) {
  return childRequests(db, { parentId });
}

/** The row POST /api/requests writes before it starts the workflow. */
export type SubmittedRequest = Omit<
  typeof t.requests.$inferInsert,
  'status' | 'steps' | 'approvals' | 'version' | 'createdAt' | 'updatedAt'
>;

/** Records a submission; false when a row with its id exists already (the same Idempotency-Key). */
export async function recordSubmittedRequest(db: DB, values: SubmittedRequest): Promise<boolean> {
  const inserted = await db
    .insert(t.requests)
    .values({ ...values, status: 'submitted' })
    .onConflictDoNothing()
    .returning({ id: t.requests.id });
  return inserted.length > 0;
}

/** Takes back a submission whose workflow could not be started, so a failed submission changes nothing. */
export async function withdrawSubmittedRequest(db: DB, id: string): Promise<void> {
  await db.delete(t.requests).where(eq(t.requests.id, id));
}

export interface SyncRequestInput {
  snapshot: RequestSnapshot;
  /** The workflow run that took the snapshot (an operator's reset starts a new one). */
  runId?: string;
  deviceId?: string;
  justification?: string;
  parentId?: string;
  catalogItemVersion?: number;
}

/**
 * Projects the workflow's snapshot into the requests table, which listings and
 * GET /api/requests/:id read. Writes carry the snapshot version and an older
 * version never overwrites a newer one, so retries and reordering are harmless.
 * A reset run starts over from an earlier, lower version: a write from another
 * run than the stored one always lands (the old run has ended by then).
 */
export async function projectRequest(
  db: DB,
  { snapshot: s, runId, deviceId, justification, parentId, catalogItemVersion }: SyncRequestInput,
): Promise<void> {
  const values = {
    status: s.status,
    steps: s.steps,
    waitingOn: s.waitingOn,
    approvals: s.approvals,
    outcome: s.outcome,
    version: s.version,
    runId: runId ?? null,
    updatedAt: s.updatedAt,
    fulfilledAt: s.fulfilledAt,
  };
  await db
    .insert(t.requests)
    .values({
      id: s.id,
      type: s.type,
      catalogItemId: s.catalogItemId,
      requesterId: s.requester,
      beneficiaryId: s.beneficiary,
      deviceId: deviceId ?? null,
      justification: justification ?? null,
      parentId: parentId ?? null,
      catalogItemVersion: catalogItemVersion ?? null,
      // Started outside the API (e.g. by an operator with the CLI): no submitted body to compare.
      fingerprint: '',
      createdAt: s.createdAt,
      ...values,
    })
    .onConflictDoUpdate({
      target: t.requests.id,
      set: values,
      setWhere: sql`excluded.version > ${t.requests.version} OR excluded.run_id IS DISTINCT FROM ${t.requests.runId}`,
    });
}

/**
 * A finished request that was undone afterwards (a fulfilled item of a cancelled bundle):
 * its workflow has ended and cannot say so itself, so the projection records it, in the
 * caller's transaction, with a step and the outcome a reader sees.
 */
export async function recordRequestUndoneIn(
  tx: Tx,
  input: { requestId: string; step: string; message: string; at: string },
): Promise<void> {
  const row = await byId(tx, input.requestId);
  if (!row || row.status === 'cancelled') return;
  await tx
    .update(t.requests)
    .set({
      status: 'cancelled',
      steps: [
        ...row.steps,
        {
          name: input.step,
          kind: 'automated',
          state: 'compensated',
          startedAt: input.at,
          endedAt: input.at,
          detail: input.message,
        },
      ],
      waitingOn: null,
      outcome: { message: input.message },
      version: row.version + 1,
      updatedAt: input.at,
    })
    .where(eq(t.requests.id, input.requestId));
}
