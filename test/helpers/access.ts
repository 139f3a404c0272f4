import { and, eq } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import * as t from '../../db/schema.js';
import { awaitingApproval, ended, type TestStack } from './stack.js';

// Shared by the time-bound access and access review tests: an access request granted over HTTP,
// and waits for the access aggregate's rows (with a deadline, never a fixed delay).

/** A sensitive item granting FIN-REPORTING-READERS for a limited time (the days of the test are seconds). */
export function timedFinReporting(maxDuration: string): typeof t.catalogItems.$inferInsert {
  return {
    id: 'fin-reporting-timed',
    name: 'Financial Reporting System (time-bound)',
    type: 'access',
    description: 'Read access to the Financial Reporting System for a limited time (test fixture)',
    sensitivity: 'sensitive',
    securityGroup: 'FIN-REPORTING-READERS',
    approvalPolicy: [{ kind: 'manager' }],
    accessDuration: { maxDuration, required: true },
    revokeOnLeave: true,
  };
}

/** Submits an access request, has `approver` approve it over HTTP, and waits until it is fulfilled. */
export async function grantOverHttp(
  stack: TestStack,
  tokens: Record<string, string>,
  who: string,
  approver: string,
  body: Record<string, unknown>,
) {
  const submitted = await stack.submit(tokens[who]!, body);
  await stack.waitForRequest(tokens[who]!, submitted.id, awaitingApproval);
  const decided = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
    token: tokens[approver],
    body: { decision: 'approve', comment: 'Needed for the close' },
  });
  if (decided.status !== 200) throw new Error(`approve: ${decided.status} ${JSON.stringify(decided.body)}`);
  const done = await stack.waitForRequest(tokens[who]!, submitted.id, ended);
  if (done.status !== 'fulfilled') throw new Error(`${submitted.id} ended ${done.status}`);
  return done;
}

export const grantRow = (stack: TestStack, id: string) =>
  stack.db.select().from(t.accessGrants).where(eq(t.accessGrants.id, id)).get();

export const membership = (stack: TestStack, user: string) =>
  stack.db
    .select()
    .from(t.securityGroupMembers)
    .where(
      and(
        eq(t.securityGroupMembers.groupId, 'FIN-REPORTING-READERS'),
        eq(t.securityGroupMembers.userId, user),
      ),
    )
    .get();

/** Reads until `ok` holds, for up to `timeoutMs`; returns the last value either way. */
export async function eventually<T>(read: () => T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(150);
  }
}

export const auditEntry = (stack: TestStack, seq: number | null | undefined) =>
  seq ? stack.db.select().from(t.auditLog).where(eq(t.auditLog.seq, seq)).get() : undefined;

export const subjectsFor = (stack: TestStack, recipient: string) =>
  stack.db
    .select({ subject: t.notifications.subject })
    .from(t.notifications)
    .where(eq(t.notifications.recipientId, recipient))
    .all()
    .map((n) => n.subject);
