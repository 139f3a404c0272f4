import { and, desc, eq, inArray } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { Decision } from '../domain/approval.js';
import { actingFor } from './delegations.js';

/*
 * The approvals aggregate: it alone writes `approval_tasks`, the projection of who may decide
 * which level of a request. The approval workflow's activities open, record and close the
 * tasks; the API reads them to list an inbox and to find the slot a caller decides for.
 */

export type ApprovalTaskRow = typeof t.approvalTasks.$inferSelect;

export interface ApprovalDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

export interface ApprovalDecision {
  requestId: string;
  level: number;
  approver: string;
  decidedBy: string;
  decision: Decision;
  comment?: string;
}

export interface PendingApprovalRow {
  requestId: string;
  level: number;
  approver: string;
  waitingSince: string;
  requester: string;
  beneficiary: string;
  catalogItemId: string;
  justification: string | null;
  itemName: string;
}

/** Pending approvals read from the database at a time, until a page of offerable ones is full. */
const PAGE_READ = 200;

export function createApprovalTasks(deps: ApprovalDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  return {
    /** Projects pending approvers so the API can list them and refuse anyone else. Idempotent. */
    async open(input: { requestId: string; level: number; approvers: string[] }): Promise<void> {
      if (input.approvers.length === 0) return;
      const at = now();
      await db
        .insert(t.approvalTasks)
        .values(
          input.approvers.map((approverId) => ({
            requestId: input.requestId,
            level: input.level,
            approverId,
            state: 'pending' as const,
            createdAt: at,
          })),
        )
        .onConflictDoNothing();
    },

    /** Records one decision on the approver's row (a row already decided keeps its first decision). */
    async recordDecision(input: ApprovalDecision): Promise<void> {
      await db
        .update(t.approvalTasks)
        .set({
          state: input.decision === 'approve' ? 'approved' : 'denied',
          decidedBy: input.decidedBy,
          comment: input.comment ?? null,
          decidedAt: now(),
        })
        .where(
          and(
            eq(t.approvalTasks.requestId, input.requestId),
            eq(t.approvalTasks.level, input.level),
            eq(t.approvalTasks.approverId, input.approver),
            eq(t.approvalTasks.state, 'pending'),
          ),
        );
    },

    /**
     * Closes what is still pending for a request (level passed, denied, expired, cancelled),
     * or only one approver's part of it (they can no longer decide).
     */
    async close(input: {
      requestId: string;
      state: 'superseded' | 'expired' | 'cancelled';
      approver?: string;
    }): Promise<void> {
      await db
        .update(t.approvalTasks)
        .set({ state: input.state, decidedAt: now() })
        .where(
          and(
            eq(t.approvalTasks.requestId, input.requestId),
            eq(t.approvalTasks.state, 'pending'),
            input.approver !== undefined ? eq(t.approvalTasks.approverId, input.approver) : undefined,
          ),
        );
    },
  };
}

/** A request's approval tasks still waiting for a decision. */
export async function pendingApprovalTasks(db: DB, requestId: string): Promise<ApprovalTaskRow[]> {
  return db
    .select()
    .from(t.approvalTasks)
    .where(and(eq(t.approvalTasks.requestId, requestId), eq(t.approvalTasks.state, 'pending')));
}

/** Whether any of `users` was ever asked to decide the request (their turn may have passed). */
export async function isApproverOfRecord(db: DB, requestId: string, users: string[]): Promise<boolean> {
  if (users.length === 0) return false;
  const [row] = await db
    .select({ id: t.approvalTasks.id })
    .from(t.approvalTasks)
    .where(and(eq(t.approvalTasks.requestId, requestId), inArray(t.approvalTasks.approverId, users)))
    .limit(1);
  return row !== undefined;
}

/** The requests that wait for `approver`'s decision. */
export async function requestsAwaiting(db: DB, approver: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: t.approvalTasks.requestId })
    .from(t.approvalTasks)
    .where(and(eq(t.approvalTasks.approverId, approver), eq(t.approvalTasks.state, 'pending')));
  return rows.map((r) => r.id);
}

/**
 * What waits for `me` to decide (for myself and for whoever delegated to me), newest first, one
 * slot per request and level. Only the columns the inbox shows (not the requests' steps and
 * snapshots), read until the page is full: the first page costs the same with ten or ten
 * thousand waiting.
 */
export async function approvalInbox(
  db: DB,
  me: string,
  page: { limit: number; offset: number },
): Promise<PendingApprovalRow[]> {
  const rows = db
    .select({
      requestId: t.approvalTasks.requestId,
      level: t.approvalTasks.level,
      approver: t.approvalTasks.approverId,
      waitingSince: t.approvalTasks.createdAt,
      requester: t.requests.requesterId,
      beneficiary: t.requests.beneficiaryId,
      catalogItemId: t.requests.catalogItemId,
      justification: t.requests.justification,
      itemName: t.catalogItems.name,
    })
    .from(t.approvalTasks)
    .innerJoin(t.requests, eq(t.requests.id, t.approvalTasks.requestId))
    .innerJoin(t.catalogItems, eq(t.catalogItems.id, t.requests.catalogItemId))
    .where(
      and(eq(t.approvalTasks.state, 'pending'), inArray(t.approvalTasks.approverId, await actingFor(db, me))),
    )
    .orderBy(desc(t.approvalTasks.createdAt), desc(t.approvalTasks.id))
    .limit(PAGE_READ);
  // Levels where I already decided (for myself or for someone): one person, one vote.
  const voted = new Set(
    (
      await db
        .select({ requestId: t.approvalTasks.requestId, level: t.approvalTasks.level })
        .from(t.approvalTasks)
        .where(eq(t.approvalTasks.decidedBy, me))
    ).map((v) => `${v.requestId}:${v.level}`),
  );
  // Where I am an approver myself, that slot is offered, not a delegator's at the same level.
  // Asked only about the delegators' requests read, not about my whole inbox.
  const own = new Set<string>();
  const noteOwn = async (chunk: PendingApprovalRow[]) => {
    const theirs = [...new Set(chunk.filter((r) => r.approver !== me).map((r) => r.requestId))];
    if (theirs.length === 0) return;
    const mine = await db
      .select({ requestId: t.approvalTasks.requestId, level: t.approvalTasks.level })
      .from(t.approvalTasks)
      .where(
        and(
          eq(t.approvalTasks.state, 'pending'),
          eq(t.approvalTasks.approverId, me),
          inArray(t.approvalTasks.requestId, theirs),
        ),
      );
    for (const o of mine) own.add(`${o.requestId}:${o.level}`);
  };
  const offered = new Set<string>();
  const items: PendingApprovalRow[] = [];
  let skipped = 0;
  for (let at = 0; ; at += PAGE_READ) {
    const chunk = await rows.offset(at);
    await noteOwn(chunk);
    for (const r of chunk) {
      // Never offer a request that benefits me or the approver I would act for (the
      // workflow refuses such a decision anyway), nor a second vote at one level.
      const parties = [r.requester, r.beneficiary];
      if (parties.includes(me) || parties.includes(r.approver)) continue;
      const key = `${r.requestId}:${r.level}`;
      if (voted.has(key) || offered.has(key)) continue;
      if (own.has(key) && r.approver !== me) continue;
      offered.add(key);
      if (skipped++ < page.offset) continue;
      items.push(r);
      if (items.length >= page.limit) return items;
    }
    if (chunk.length < PAGE_READ) return items;
  }
}
