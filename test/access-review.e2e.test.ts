import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { reviewerWorkflowId } from '../domain/access.js';
import type { accessReviewCampaign } from '../workflows/access-review.js';
import { eventually, grantOverHttp, membership, subjectsFor } from './helpers/access.js';
import { recordHistory } from './helpers/histories.js';
import { startStack, type TestStack } from './helpers/stack.js';

// An access review campaign on the real stack: three holders of FIN-REPORTING-READERS, one kept,
// one revoked, one left undecided and revoked at the deadline; the auditors' report names all
// three, and the audit chain still verifies. The deadline is seconds away instead of weeks.

let stack: TestStack;
const tokens: Record<string, string> = {};
const grants: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), { ACCESS_REVIEW_REMIND_BEFORE: '12s' });
  // Dave checks the service for the auditors.
  await stack.db.insert(t.groupMembers).values({ groupId: 'auditors', userId: 'dave' });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'olga']) tokens[u] = await stack.login(u);
  // Holders and their managers: alice (bob), carol (erin), bob (erin).
  for (const [holder, manager] of [
    ['alice', 'bob'],
    ['carol', 'erin'],
    ['bob', 'erin'],
  ] as const) {
    const req = await grantOverHttp(stack, tokens, holder, manager, {
      catalogItemId: 'financial-reporting',
      justification: `${holder} prepares the close`,
    });
    grants[holder] = req.id;
  }
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

interface Item {
  id: number;
  user: string;
  reviewer: string;
  decision: string | null;
  decidedBy: string | null;
  comment: string | null;
  outcome: string | null;
  grant: { requestId: string | null; approvedBy: string[]; justification: string | null };
}

describe('access review campaign', () => {
  it('is started by operators only, over known groups and a future deadline', async () => {
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const cases: [string, unknown, number][] = [
      ['alice', { groups: ['FIN-REPORTING-READERS'], deadline, policy: 'revoke' }, 403],
      ['olga', { groups: ['NO-SUCH-GROUP'], deadline, policy: 'revoke' }, 422],
      ['olga', { groups: ['FIN-REPORTING-READERS'], allSensitive: true, deadline, policy: 'revoke' }, 422],
      [
        'olga',
        { groups: ['FIN-REPORTING-READERS'], deadline: '2020-01-01T00:00:00Z', policy: 'revoke' },
        422,
      ],
      ['olga', { groups: ['FIN-REPORTING-READERS'], deadline, policy: 'shrug' }, 400],
    ];
    for (const [who, body, status] of cases) {
      const res = await stack.call('POST', '/api/access/reviews', { token: tokens[who], body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(await stack.db.select().from(t.accessReviewCampaigns)).toEqual([]);
  });

  it(
    'keeps one, revokes one, revokes the undecided one at the deadline; the report lists all three',
    { timeout: 180_000 },
    async () => {
      const started = await stack.call('POST', '/api/access/reviews', {
        token: tokens.olga,
        body: {
          groups: ['FIN-REPORTING-READERS'],
          deadline: new Date(Date.now() + 25_000).toISOString(),
          policy: 'revoke',
        },
      });
      expect(started.status).toBe(202);
      const campaign = started.body as { id: string; state: string };
      expect(campaign.state).toBe('running');

      // Each reviewer's part is open once they were told.
      for (const reviewer of ['bob', 'erin']) {
        await eventually(
          async () =>
            (await subjectsFor(stack, reviewer)).filter((s) => s.startsWith(`Access review ${campaign.id}`)),
          (s) => s.length > 0,
        );
      }
      const bobs = (await stack.call('GET', '/api/access/reviews/tasks', { token: tokens.bob })).body as {
        items: Item[];
      };
      // One item, with the original request, its approver and its justification.
      expect(bobs.items).toHaveLength(1);
      expect(bobs.items[0]).toMatchObject({ user: 'alice', reviewer: 'bob' });
      expect(bobs.items[0]!.grant).toMatchObject({
        requestId: grants.alice,
        approvedBy: ['bob'],
        justification: 'alice prepares the close',
      });
      const erins = (
        (await stack.call('GET', '/api/access/reviews/tasks', { token: tokens.erin })).body as {
          items: Item[];
        }
      ).items;
      expect(erins.map((i) => i.user).sort()).toEqual(['bob', 'carol']);
      const carolItem = erins.find((i) => i.user === 'carol')!;
      const decide = (who: string, itemId: number, body: unknown) =>
        stack.call('POST', `/api/access/reviews/${campaign.id}/items/${itemId}/decision`, {
          token: tokens[who],
          body,
        });

      // Nobody decides another reviewer's item.
      expect((await decide('alice', carolItem.id, { decision: 'keep' })).status).toBe(404);
      expect((await decide('bob', carolItem.id, { decision: 'keep' })).status).toBe(404);

      const kept = await decide('bob', bobs.items[0]!.id, {
        decision: 'keep',
        comment: 'Still on the close team',
      });
      expect(kept.status).toBe(200);
      expect(kept.body).toMatchObject({ decision: 'keep', outcome: 'kept', decidedBy: 'bob' });
      expect((await decide('bob', bobs.items[0]!.id, { decision: 'revoke' })).status).toBe(409);

      const revoked = await decide('erin', carolItem.id, { decision: 'revoke', comment: 'Moved to payroll' });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ outcome: 'revoked' });
      expect(await membership(stack, 'carol')).toBeUndefined();
      expect(await membership(stack, 'alice')).toBeDefined();

      // Erin never decides on bob: at the deadline the policy revokes it.
      const result = await stack.temporal.workflow
        .getHandle<typeof accessReviewCampaign>(campaign.id)
        .result();
      expect(result).toMatchObject({ reviewers: 2, items: 3 });
      expect(await membership(stack, 'bob')).toBeUndefined();
      expect(await membership(stack, 'alice')).toBeDefined();
      expect(
        (await subjectsFor(stack, 'erin')).some((s) =>
          s.startsWith(`Reminder: access review ${campaign.id}`),
        ),
      ).toBe(true);

      // The auditors' report: who decided what, and the revocations done.
      const report = await stack.call('GET', `/api/access/reviews/${campaign.id}/report`, {
        token: tokens.dave,
      });
      expect(report.status).toBe(200);
      const body = report.body as {
        campaign: { state: string };
        items: Item[];
        tally: Record<string, number>;
        revocations: { user: string; auditSeq: number | null }[];
      };
      expect(body.campaign.state).toBe('completed');
      const byUser = Object.fromEntries(body.items.map((i) => [i.user, i]));
      expect(byUser.alice).toMatchObject({
        decision: 'keep',
        decidedBy: 'bob',
        comment: 'Still on the close team',
        outcome: 'kept',
      });
      expect(byUser.carol).toMatchObject({
        decision: 'revoke',
        decidedBy: 'erin',
        comment: 'Moved to payroll',
        outcome: 'revoked',
      });
      expect(byUser.bob).toMatchObject({
        decision: 'revoke',
        decidedBy: 'reqflow',
        outcome: 'revoked_at_deadline',
      });
      expect(body.tally).toEqual({ kept: 1, revoked: 1, revoked_at_deadline: 1 });
      expect(body.revocations.map((r) => r.user).sort()).toEqual(['bob', 'carol']);
      for (const r of body.revocations) {
        const [entry] = await stack.db.select().from(t.auditLog).where(eq(t.auditLog.seq, r.auditSeq!));
        expect(entry).toMatchObject({ action: 'access.revoked', subject: r.user });
        expect(entry!.details).toMatchObject({ reason: 'review' });
      }
      // The report is the auditors' and operators'; a reviewer reads their own items, others nothing.
      expect(
        (await stack.call('GET', `/api/access/reviews/${campaign.id}/report`, { token: tokens.bob })).status,
      ).toBe(403);
      expect(
        (await stack.call('GET', `/api/access/reviews/${campaign.id}/report`, { token: tokens.alice }))
          .status,
      ).toBe(404);
      const grantsEnded = await stack.db
        .select()
        .from(t.accessGrants)
        .where(and(eq(t.accessGrants.endReason, 'review'), like(t.accessGrants.groupId, 'FIN-%')));
      expect(grantsEnded.map((g) => g.userId).sort()).toEqual(['bob', 'carol']);

      const chain = await stack.call('GET', '/api/audit/verify', { token: tokens.dave });
      expect(chain.body).toMatchObject({ ok: true });

      await recordHistory(stack.temporal.workflow.getHandle(campaign.id), 'kept-revoked-undecided');
      await recordHistory(
        stack.temporal.workflow.getHandle(reviewerWorkflowId(campaign.id, 'erin')),
        'revoked-one-left-one',
      );
    },
  );

  it('runs on a Temporal Schedule, quarterly', async () => {
    const body = {
      allSensitive: true,
      every: 'quarterly',
      deadlineAfter: '14d',
      policy: 'keep_and_escalate',
    };
    const res = await stack.call('POST', '/api/access/reviews/schedules', { token: tokens.olga, body });
    expect(res.status).toBe(201);
    const { scheduleId } = res.body as { scheduleId: string };
    try {
      const d = await stack.temporal.schedule.getHandle(scheduleId).describe();
      expect(d.spec.calendars?.[0]?.month).toEqual([
        { start: 'JANUARY', end: 'JANUARY', step: 1 },
        { start: 'APRIL', end: 'APRIL', step: 1 },
        { start: 'JULY', end: 'JULY', step: 1 },
        { start: 'OCTOBER', end: 'OCTOBER', step: 1 },
      ]);
      expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'accessReviewCampaign' });
      const again = await stack.call('POST', '/api/access/reviews/schedules', { token: tokens.olga, body });
      expect(again.status).toBe(409);
      expect(
        (await stack.call('POST', '/api/access/reviews/schedules', { token: tokens.bob, body })).status,
      ).toBe(403);
    } finally {
      await stack.temporal.schedule.getHandle(scheduleId).delete();
    }
  });
});
