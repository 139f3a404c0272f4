import { and, eq } from 'drizzle-orm';
import * as t from '../../db/schema.js';
import { awaitingApproval, ended, type TestStack } from './stack.js';

export { eventually } from './eventually.js';

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

export const grantRow = async (stack: TestStack, id: string) =>
  (await stack.db.select().from(t.accessGrants).where(eq(t.accessGrants.id, id)))[0];

export const membership = async (stack: TestStack, user: string) =>
  (
    await stack.db
      .select()
      .from(t.securityGroupMembers)
      .where(
        and(
          eq(t.securityGroupMembers.groupId, 'FIN-REPORTING-READERS'),
          eq(t.securityGroupMembers.userId, user),
        ),
      )
  )[0];

export const auditEntry = async (stack: TestStack, seq: number | null | undefined) =>
  seq ? (await stack.db.select().from(t.auditLog).where(eq(t.auditLog.seq, seq)))[0] : undefined;

/** The subjects of a recipient's notifications, oldest first. */
export const subjectsFor = async (stack: TestStack, recipient: string) =>
  (
    await stack.db
      .select({ subject: t.notifications.subject })
      .from(t.notifications)
      .where(eq(t.notifications.recipientId, recipient))
      .orderBy(t.notifications.id)
  ).map((n) => n.subject);
