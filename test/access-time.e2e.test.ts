import { and, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { grantTimerWorkflowId } from '../domain/access.js';
import type { accessGrantTimer } from '../workflows/access-grant.js';
import type { GrantView } from '../api/schemas/access.js';
import type { RequestView } from '../api/schemas/requests.js';
import {
  auditEntry,
  eventually,
  grantOverHttp,
  grantRow,
  membership,
  subjectsFor,
  timedFinReporting,
} from './helpers/access.js';
import { recordHistory } from './helpers/histories.js';
import { ended, SCIM_TOKEN, startStack, type TestStack } from './helpers/stack.js';

// Time-bound access on the real stack (worker, API, Temporal dev server), with days made
// seconds: a "day" is DAY ms, the reminder goes out one day ahead (ACCESS_REMIND_BEFORE). The
// same timers run for days in production. Nothing waits a fixed time: each step waits for a
// state, with a deadline.

const DAY = 5000;
let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), { ACCESS_REMIND_BEFORE: `${DAY / 1000}s` });
  await stack.db.insert(t.catalogItems).values(timedFinReporting('60s'));
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();
const timer = (grantId: string) =>
  stack.temporal.workflow.getHandle<typeof accessGrantTimer>(grantTimerWorkflowId(grantId));
const revocationsOf = (grantId: string) =>
  stack.db
    .select()
    .from(t.auditLog)
    .where(
      and(
        eq(t.auditLog.action, 'access.revoked'),
        // ->> reads a JSON member on SQLite (3.38+) and on PostgreSQL's jsonb alike.
        sql`${t.auditLog.details} ->> 'grantId' = ${grantId}`,
      ),
    )
    .orderBy(t.auditLog.seq);

describe('time-bound access', () => {
  it(
    'reminds a 7-day grant on day 6 with a renewal link; the renewal is approved and takes over',
    { timeout: 150_000 },
    async () => {
      const first = await grantOverHttp(stack, tokens, 'alice', 'bob', {
        catalogItemId: 'fin-reporting-timed',
        justification: 'Quarter close',
        accessUntil: inDays(7),
      });
      expect(first.accessUntil).toBeTruthy();
      const grant = (await grantRow(stack, first.id))!;
      expect(grant).toMatchObject({
        userId: 'alice',
        approvedBy: ['bob'],
        justification: 'Quarter close',
        endedAt: null,
      });
      expect((await membership(stack, 'alice'))?.requestId).toBe(first.id);

      const mine = await stack.call('GET', '/api/access/grants', { token: tokens.alice });
      const listed = (mine.body as { items: GrantView[] }).items.find((g) => g.id === first.id);
      expect(listed).toMatchObject({
        state: 'active',
        until: grant.until,
        approvedBy: ['bob'],
        securityGroup: 'FIN-REPORTING-READERS',
      });
      expect(listed?.links.renew).toBe(`/api/access/grants/${first.id}/renewal`);

      // Day 6: the reminder, never before one day ahead of the end.
      const reminder = await eventually(
        async () =>
          (
            await stack.db
              .select()
              .from(t.notifications)
              .where(eq(t.notifications.key, `${first.id}:expiry-reminder`))
          )[0],
        (n) => n !== undefined,
      );
      expect(reminder).toBeDefined();
      expect(reminder!.recipientId).toBe('alice');
      expect(Date.parse(reminder!.createdAt)).toBeGreaterThanOrEqual(Date.parse(grant.until!) - DAY);
      expect(reminder!.links.renew).toContain(`/access?renew=${first.id}`);

      // Pre-filled from the old request, as long again; a retry with the same key is the same renewal.
      const renew = () =>
        stack.call('POST', `/api/access/grants/${first.id}/renewal`, {
          token: tokens.alice,
          body: {},
          headers: { 'idempotency-key': `renew-${first.id}` },
        });
      const renewal = await renew();
      expect(renewal.status).toBe(202);
      const renewed = renewal.body as RequestView;
      expect(((await renew()).body as RequestView).id).toBe(renewed.id);
      expect(renewed).toMatchObject({
        catalogItemId: 'fin-reporting-timed',
        renewalOf: first.id,
        justification: 'Quarter close',
      });
      await stack.waitForRequest(
        tokens.alice!,
        renewed.id,
        (r) => r.status === 'awaiting_approval' && r.waitingOn !== null,
      );
      const approved = await stack.call('POST', `/api/requests/${renewed.id}/approvals`, {
        token: tokens.bob,
        body: { decision: 'approve' },
      });
      expect(approved.status).toBe(200);
      expect((await stack.waitForRequest(tokens.alice!, renewed.id, ended)).status).toBe('fulfilled');

      const next = (await grantRow(stack, renewed.id))!;
      expect(next).toMatchObject({ renewalOf: first.id, endedAt: null });
      expect((await membership(stack, 'alice'))?.requestId).toBe(renewed.id);
      // The old grant's timer ends either way; which way depends on whether the renewal was
      // granted before the old end, which the records say.
      const outcome = await timer(first.id).result();
      const old = (await grantRow(stack, first.id))!;
      if (next.grantedAt < grant.until!) {
        expect(old.endReason).toBe('renewed');
        expect(outcome).toBe('ended');
        expect(await revocationsOf(first.id)).toEqual([]);
      } else {
        expect(old.endReason).toBe('expired');
      }
      expect((await membership(stack, 'alice'))?.requestId).toBe(renewed.id);
      await recordHistory(stack.temporal.workflow.getHandle(first.id), 'time-bound-granted');
      await recordHistory(timer(first.id), 'reminded-then-renewed');
    },
  );

  it(
    'expires: the membership goes, audited, pointing at the grant; the holder is told',
    { timeout: 120_000 },
    async () => {
      const req = await grantOverHttp(stack, tokens, 'carol', 'erin', {
        catalogItemId: 'fin-reporting-timed',
        accessUntil: inDays(2),
      });
      expect((await membership(stack, 'carol'))?.requestId).toBe(req.id);
      expect(await timer(req.id).result()).toBe('expired');

      expect(await membership(stack, 'carol')).toBeUndefined();
      const g = (await grantRow(stack, req.id))!;
      expect(g).toMatchObject({ endReason: 'expired', endedBy: 'reqflow' });
      const revoked = (await auditEntry(stack, g.endAuditSeq))!;
      expect(revoked).toMatchObject({ action: 'access.revoked', subject: 'carol', requestId: req.id });
      expect(revoked.details).toMatchObject({
        grantId: req.id,
        grantAuditSeq: g.grantAuditSeq,
        reason: 'expired',
        removed: true,
      });
      const granted = (await auditEntry(stack, g.grantAuditSeq))!;
      expect(granted).toMatchObject({ action: 'access.granted', requestId: req.id, subject: 'carol' });
      expect(await subjectsFor(stack, 'carol')).toContain(
        'Your access to Financial Reporting System (time-bound) has ended',
      );

      const list = await stack.call('GET', '/api/access/grants?state=ended', { token: tokens.carol });
      const items = (list.body as { items: GrantView[] }).items;
      expect(items.map((g) => [g.id, g.state, g.ended?.reason])).toEqual([[req.id, 'ended', 'expired']]);
      await recordHistory(timer(req.id), 'expired');
    },
  );

  it(
    'over HTTP: requested with accessUntil, granted, listed, revoked early; the timer ends, nothing is revoked twice',
    { timeout: 120_000 },
    async () => {
      const accessUntil = inDays(6);
      const req = await grantOverHttp(stack, tokens, 'bob', 'erin', {
        catalogItemId: 'fin-reporting-timed',
        justification: 'Audit prep',
        accessUntil,
      });
      expect(req.accessUntil).toBe(new Date(accessUntil).toISOString());

      const all = await stack.call(
        'GET',
        `/api/access/grants?user=bob&group=FIN-REPORTING-READERS&expiringBefore=${encodeURIComponent(inDays(7))}`,
        {
          token: tokens.olga,
        },
      );
      expect(all.status).toBe(200);
      expect((all.body as { items: GrantView[] }).items).toEqual([
        expect.objectContaining({
          id: req.id,
          user: 'bob',
          approvedBy: ['erin'],
          justification: 'Audit prep',
          state: 'active',
        }),
      ]);
      // Nobody else sees or touches bob's grant.
      expect((await stack.call('GET', '/api/access/grants?user=bob', { token: tokens.alice })).status).toBe(
        403,
      );
      expect((await stack.call('GET', `/api/access/grants/${req.id}`, { token: tokens.alice })).status).toBe(
        404,
      );
      const byOther = await stack.call('POST', `/api/access/grants/${req.id}/revoke`, {
        token: tokens.alice,
        body: {},
      });
      expect(byOther.status).toBe(404);
      expect(byOther.headers.get('content-type')).toContain('application/problem+json');
      const renewByOther = await stack.call('POST', `/api/access/grants/${req.id}/renewal`, {
        token: tokens.olga,
        body: {},
      });
      expect(renewByOther.status).toBe(404);
      expect((await grantRow(stack, req.id))?.endedAt).toBeNull();

      const revoked = await stack.call('POST', `/api/access/grants/${req.id}/revoke`, {
        token: tokens.olga,
        body: { comment: 'Left the audit team' },
      });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({
        state: 'ended',
        ended: { reason: 'revoked', by: 'olga', comment: 'Left the audit team' },
      });
      expect(await membership(stack, 'bob')).toBeUndefined();
      expect(await timer(req.id).result()).toBe('ended');

      const again = await stack.call('POST', `/api/access/grants/${req.id}/revoke`, {
        token: tokens.olga,
        body: {},
      });
      expect(again.status).toBe(409);
      expect(await revocationsOf(req.id)).toHaveLength(1);
      expect((await revocationsOf(req.id))[0]!.details).toMatchObject({
        grantAuditSeq: (await grantRow(stack, req.id))!.grantAuditSeq,
      });
      await recordHistory(timer(req.id), 'revoked-early');
    },
  );

  it('refuses an accessUntil the item does not allow, with a problem naming the field, and records nothing', async () => {
    const [before] = await stack.db.select({ n: count() }).from(t.requests);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ catalogItemId: 'fin-reporting-timed' }, /send accessUntil/],
      [{ catalogItemId: 'fin-reporting-timed', accessUntil: inDays(20) }, /at most 60s/],
      [
        { catalogItemId: 'fin-reporting-timed', accessUntil: new Date(Date.now() - 60_000).toISOString() },
        /in the past/,
      ],
      [{ catalogItemId: 'vpn-access', accessUntil: inDays(1) }, /takes no accessUntil/],
    ];
    for (const [body, detail] of cases) {
      const res = await stack.call('POST', '/api/requests', { token: tokens.alice, body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = res.body as { detail: string; errors: { path: string }[] };
      expect(problem.detail).toMatch(detail);
      expect(problem.errors).toEqual([{ path: 'body/accessUntil', message: expect.any(String) as string }]);
    }
    const notADate = await stack.call('POST', '/api/requests', {
      token: tokens.alice,
      body: { catalogItemId: 'fin-reporting-timed', accessUntil: 'next friday' },
    });
    expect(notADate.status).toBe(400);
    expect(await stack.db.select({ n: count() }).from(t.requests)).toEqual([before]);
  });

  it(
    'deactivation in the directory revokes access marked revokeOnLeave, audited, and ends its timer',
    { timeout: 120_000 },
    async () => {
      const req = await grantOverHttp(stack, tokens, 'dave', 'erin', {
        catalogItemId: 'fin-reporting-timed',
        accessUntil: inDays(8),
      });
      const off = await stack.call('PATCH', '/scim/v2/Users/dave', {
        token: SCIM_TOKEN,
        headers: { 'content-type': 'application/scim+json' },
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', path: 'active', value: false }],
        },
      });
      expect(off.status).toBe(200);
      const g = (await grantRow(stack, req.id))!;
      expect(g).toMatchObject({ endReason: 'deactivated', endedBy: 'scim' });
      expect(await membership(stack, 'dave')).toBeUndefined();
      expect((await auditEntry(stack, g.endAuditSeq))?.details).toMatchObject({
        reason: 'deactivated',
        grantAuditSeq: g.grantAuditSeq,
      });
      expect(await timer(req.id).result()).toBe('ended');
      expect(await revocationsOf(req.id)).toHaveLength(1);
    },
  );
});
