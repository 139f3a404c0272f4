import { and, eq } from 'drizzle-orm';
import { createApprovalTasks, type ApprovalDecision } from '../approvals/tasks.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { itemAsOrdered } from '../service-catalog/items.js';
import type { ApprovalLevel, ResolvedLevel } from '../domain/approval.js';
import type { ActivityDeps } from './deps.js';

export interface ResolveInput {
  requestId: string;
  requester: string;
  beneficiary: string;
  catalogItemId: string;
  /** The version the request was submitted against: its service owner decides an `owner` level. */
  catalogItemVersion?: number;
  level: number;
  policy: ApprovalLevel;
}

type UserRow = typeof t.users.$inferSelect;

async function userById(db: DB, id: string | null | undefined): Promise<UserRow | undefined> {
  if (!id) return undefined;
  const [user] = await db.select().from(t.users).where(eq(t.users.id, id)).limit(1);
  return user;
}

/**
 * Walks up the management chain from `start` until it finds someone who can decide:
 * active, and neither the requester nor the beneficiary (nobody decides a request that
 * benefits them, even as their own manager). Each skip is noted so steps[] says why the
 * request went elsewhere.
 */
async function firstEligible(
  db: DB,
  start: string | null | undefined,
  parties: Parties,
  role: string,
  notes: string[],
): Promise<string | undefined> {
  let id = start;
  const seen = new Set<string>();
  while (id && !seen.has(id)) {
    seen.add(id);
    const user = await userById(db, id);
    if (!user) {
      notes.push(`${role} ${id} does not exist; routed to the next responsible person.`);
      return undefined;
    }
    const conflict = conflictOf(user.id, parties);
    if (!user.active) notes.push(`${role} ${user.id} is inactive; routed to their manager.`);
    else if (conflict) notes.push(`${conflict} and cannot approve it; routed to their manager.`);
    else return user.id;
    id = user.managerId;
    role = 'manager';
  }
  return undefined;
}

/** The people a request benefits: neither may decide it. */
interface Parties {
  requester: string;
  beneficiary?: string;
}

/** Why `id` may not decide (for steps[]), or undefined when they may. */
function conflictOf(id: string, p: Parties): string | undefined {
  if (id === p.requester) return `${id} requested this`;
  if (id === p.beneficiary) return `${id} is who this request is for`;
  return undefined;
}

async function operators(db: DB): Promise<string[]> {
  const rows = await db
    .select({ id: t.groupMembers.userId })
    .from(t.groupMembers)
    .innerJoin(t.users, eq(t.users.id, t.groupMembers.userId))
    .where(and(eq(t.groupMembers.groupId, 'operators'), eq(t.users.active, true)));
  return rows.map((r) => r.id);
}

export function createApprovalActivities(deps: ActivityDeps) {
  const { db } = deps;
  const tasks = createApprovalTasks(deps);
  return {
    /** Turns one policy level into people. Never returns an empty list: it falls back to the operators. */
    async resolveApprovers(input: ResolveInput): Promise<ResolvedLevel> {
      const notes: string[] = [];
      const item = await itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      let label: string;
      let approvers: string[] = [];
      let required = 1;
      const p = input.policy;
      if (p.kind === 'manager') {
        label = `manager of ${input.beneficiary}`;
        const beneficiary = await userById(db, input.beneficiary);
        const found = await firstEligible(db, beneficiary?.managerId, input, 'manager', notes);
        if (!beneficiary?.managerId) notes.push(`${input.beneficiary} has no manager on record.`);
        if (found) approvers = [found];
      } else if (p.kind === 'owner') {
        label = `service owner of ${item?.name ?? input.catalogItemId}`;
        const found = await firstEligible(db, item?.serviceOwnerId, input, 'service owner', notes);
        if (!item?.serviceOwnerId) notes.push(`${input.catalogItemId} has no service owner on record.`);
        if (found) approvers = [found];
      } else {
        const [group] = await db.select().from(t.groups).where(eq(t.groups.id, p.groupId)).limit(1);
        label = `${group?.name ?? p.groupId} (${p.quorum === 'any' ? 'any one' : p.quorum === 'all' ? 'all' : `${p.quorum}`} of them)`;
        const members = await db
          .select({ id: t.users.id, active: t.users.active })
          .from(t.groupMembers)
          .innerJoin(t.users, eq(t.users.id, t.groupMembers.userId))
          .where(eq(t.groupMembers.groupId, p.groupId));
        for (const m of members) {
          if (!m.active) notes.push(`${m.id} is inactive and was left out.`);
          else if (conflictOf(m.id, input)) notes.push(`${conflictOf(m.id, input)} and cannot approve it.`);
          else approvers.push(m.id);
        }
        const wanted = p.quorum === 'any' ? 1 : p.quorum === 'all' ? approvers.length : p.quorum;
        required = Math.max(1, Math.min(wanted, approvers.length));
        if (approvers.length > 0 && wanted > approvers.length) {
          notes.push(`Only ${approvers.length} eligible member(s); ${required} approval(s) required.`);
        }
      }
      if (approvers.length === 0) {
        approvers = (await operators(db)).filter((id) => !conflictOf(id, input));
        required = 1;
        notes.push(
          `Nobody eligible for "${label}"; routed to the operators (${approvers.join(', ') || 'none'}).`,
        );
      }
      return { level: input.level, label, approvers, required, notes };
    },

    /** The approver's own manager, for escalation of a decision nobody made in time. */
    async escalationTargets(input: {
      approvers: string[];
      requester: string;
      beneficiary?: string;
    }): Promise<string[]> {
      const out = new Set<string>();
      for (const id of input.approvers) {
        const notes: string[] = [];
        const manager = await firstEligible(db, (await userById(db, id))?.managerId, input, 'manager', notes);
        if (manager && !input.approvers.includes(manager)) out.add(manager);
      }
      return [...out];
    },

    /**
     * Who decides in place of an approver who can no longer (deactivated in the directory):
     * the next eligible person up their management chain, else the operators. The notes
     * say who was skipped, for steps[].
     */
    async replacementApprovers(input: {
      approver: string;
      requester: string;
      beneficiary?: string;
    }): Promise<{ approvers: string[]; notes: string[] }> {
      const notes: string[] = [];
      const approver = await userById(db, input.approver);
      const manager = await firstEligible(db, approver?.managerId, input, 'manager', notes);
      if (manager) return { approvers: [manager], notes };
      const fallback = (await operators(db)).filter((id) => !conflictOf(id, input) && id !== input.approver);
      notes.push(
        `Nobody eligible above ${input.approver}; routed to the operators (${fallback.join(', ') || 'none'}).`,
      );
      return { approvers: fallback, notes };
    },

    /** Projects pending approvers so the API can list them and refuse anyone else. Idempotent. */
    async openApprovalTasks(input: { requestId: string; level: number; approvers: string[] }): Promise<void> {
      await tasks.open(input);
    },

    /** Records one decision on the approver's row. */
    async recordApprovalDecision(input: ApprovalDecision): Promise<void> {
      await tasks.recordDecision(input);
    },

    /**
     * Closes what is still pending for a request (level passed, denied, expired, cancelled),
     * or only one approver's part of it (they can no longer decide).
     */
    async closeApprovalTasks(input: {
      requestId: string;
      state: 'superseded' | 'expired' | 'cancelled';
      approver?: string;
    }): Promise<void> {
      await tasks.close(input);
    },
  };
}
