import { and, eq } from 'drizzle-orm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import * as t from '../db/schema.js';
import { signApprovalLink } from '../runtime/approval-links.js';
import type { ParsedMail } from 'mailparser';
import { startSmtpServer, type TestSmtp } from './helpers/smtp.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Access requests and approvals over HTTP against the real stack (worker, API,
// agent processes; the real database; the shared Temporal dev server).

let stack: TestStack;
let smtp: TestSmtp;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  // Notifications leave the worker's outbox through a real SMTP server on loopback.
  smtp = await startSmtpServer();
  stack = await startStack(inject('temporalAddress'), {
    SMTP_URL: smtp.url,
    MAIL_FROM: 'reqflow <reqflow@example.com>',
  });
  stack.startAgent('LAPTOP-ALICE');
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

/** Waits for the mail the worker's outbox sends to `to` about `requestId` whose subject matches. */
async function mailTo(to: string, requestId: string, subject: RegExp): Promise<ParsedMail> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const mail = smtp.received.find(
      (m) =>
        m.to !== undefined &&
        !Array.isArray(m.to) &&
        m.to.text.includes(to) &&
        subject.test(m.subject ?? '') &&
        (m.text ?? '').includes(requestId),
    );
    if (mail) return mail;
    if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${subject} for ${requestId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const as = (user: string) => tokens[user]!;
/** Submits, then waits until the approvers can decide: the POST answer may come before that. */
const submitForApproval = async (user: string, body: object) => {
  const posted = await stack.submit(as(user), body);
  // Whatever the POST answer says, it is a status on the way, never a wrong one.
  expect(['submitted', 'checking_entitlement', 'awaiting_approval']).toContain(posted.status);
  return stack.waitForRequest(as(user), posted.id, awaitingApproval);
};
const requestFinReporting = (user = 'carol', extra: object = {}) =>
  submitForApproval(user, {
    catalogItemId: 'financial-reporting',
    justification: 'Quarter-end close',
    ...extra,
  });
const approve = (user: string, id: string, decision: 'approve' | 'deny' = 'approve', comment?: string) =>
  stack.call('POST', `/api/requests/${id}/approvals`, {
    token: as(user),
    body: { decision, ...(comment ? { comment } : {}) },
  });
/** A recipient's notifications about a request, oldest first. */
const notificationsOf = (requestId: string, recipient: string) =>
  stack.db
    .select()
    .from(t.notifications)
    .where(and(eq(t.notifications.requestId, requestId), eq(t.notifications.recipientId, recipient)))
    .orderBy(t.notifications.id);

async function updateEvents(id: string): Promise<number> {
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide',
  ).length;
}

describe('access request: the story', () => {
  it('routes to the manager, who approves; the grant is provisioned, audited and announced', async () => {
    const submitted = await requestFinReporting();
    expect(submitted.status).toBe('awaiting_approval');
    const step = submitted.steps.find((s) => s.name === 'approval_level_1');
    expect(step?.detail).toContain('Waiting for erin');
    // What it waits for, and on whom, at a glance.
    expect(submitted.waitingOn).toMatchObject({ what: 'approval: manager of carol', who: ['erin'] });

    // Erin sees who, what and why.
    const pending = await stack.call('GET', '/api/approvals', { token: as('erin') });
    expect((pending.body as { items: unknown[] }).items).toContainEqual(
      expect.objectContaining({
        requestId: submitted.id,
        requester: 'carol',
        itemName: 'Financial Reporting System',
        justification: 'Quarter-end close',
      }),
    );
    const [ask] = await notificationsOf(submitted.id, 'erin');
    expect(ask?.subject).toContain('Approval needed');
    expect(ask?.body).toContain('Quarter-end close');
    expect(ask?.links.approve).toContain('/approvals/links/');
    expect(ask?.links.deny).toContain('/approvals/links/');

    // The real message Erin receives carries the context and working approve/deny links.
    const mail = await mailTo('erin@example.com', submitted.id, /^Approval needed/);
    expect(mail.text).toContain('carol requests Financial Reporting System');
    expect(mail.text).toContain('Quarter-end close');
    const approveUrl = /https?:\/\/\S+\/approvals\/links\/\S+/.exec(mail.text ?? '')?.[0];
    expect(approveUrl).toBe(ask?.links.approve);

    const decided = await approve('erin', submitted.id, 'approve', 'ok for Q4');
    expect(decided.status).toBe(200);
    const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.waitingOn).toBeNull();
    expect(done.approvals).toEqual([
      expect.objectContaining({ approver: 'erin', decision: 'approve', comment: 'ok for Q4', via: 'api' }),
    ]);
    await mailTo('carol@example.com', submitted.id, /^Pending fulfillment: Financial Reporting System$/);
    await mailTo('carol@example.com', submitted.id, /^Access granted to Financial Reporting System$/);
    expect((await notificationsOf(submitted.id, 'carol')).map((n) => n.subject)).toEqual(
      expect.arrayContaining([
        'Pending fulfillment: Financial Reporting System',
        'Access granted to Financial Reporting System',
      ]),
    );

    const [member] = await stack.db
      .select()
      .from(t.securityGroupMembers)
      .where(
        and(
          eq(t.securityGroupMembers.groupId, 'FIN-REPORTING-READERS'),
          eq(t.securityGroupMembers.userId, 'carol'),
        ),
      );
    expect(member?.requestId).toBe(submitted.id);
    const [approval] = await stack.db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.seq, member!.approvalAuditSeq!));
    expect(approval).toMatchObject({ action: 'request.approved', actor: 'erin', requestId: submitted.id });
    const [grant] = await stack.db
      .select()
      .from(t.auditLog)
      .where(and(eq(t.auditLog.requestId, submitted.id), eq(t.auditLog.action, 'access.granted')))
      .orderBy(t.auditLog.seq)
      .limit(1);
    expect(grant?.details).toMatchObject({
      securityGroup: 'FIN-REPORTING-READERS',
      approvalAuditSeq: approval!.seq,
    });

    // A second grant of the same access is no error and adds nothing.
    const again = await requestFinReporting();
    await approve('erin', again.id);
    const second = await stack.waitForRequest(as('carol'), again.id, ended);
    expect(second.status).toBe('fulfilled');
    expect(second.steps.find((s) => s.name === 'grant_group_membership')?.detail).toContain(
      'already a member',
    );
  });

  it('ends as denied with the approver comment shown to the requester', async () => {
    const submitted = await requestFinReporting();
    const res = await approve('erin', submitted.id, 'deny', 'Use the monthly PDF reports');
    expect(res.status).toBe(200);
    const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
    expect(done.status).toBe('denied');
    expect(done.outcome?.message).toContain('Use the monthly PDF reports');
  });
});

describe('who may decide', () => {
  it('refuses a non-approver with 403 and writes nothing to the workflow history', async () => {
    const submitted = await requestFinReporting();
    for (const user of ['dave', 'alice', 'carol']) {
      const res = await approve(user, submitted.id);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(await updateEvents(submitted.id)).toBe(0);
    expect((await approve('erin', submitted.id)).status).toBe(200);
    expect((await approve('erin', submitted.id)).status).toBe(409);
    await stack.waitForRequest(as('carol'), submitted.id, ended);
    expect((await approve('erin', submitted.id)).status).toBe(409);
  });

  it('never lets requesters approve their own request, even as their own manager', async () => {
    // Bob orders for Alice, whose manager is Bob: the decision goes to Bob's manager.
    const submitted = await submitForApproval('bob', {
      catalogItemId: 'financial-reporting',
      onBehalfOf: 'alice',
      justification: 'Budget tracking',
    });
    expect(submitted.beneficiary).toBe('alice');
    const step = submitted.steps.find((s) => s.name === 'approval_level_1');
    expect(step?.detail).toContain('Waiting for erin');
    expect(step?.detail).toContain('bob requested this and cannot approve it');
    expect((await approve('bob', submitted.id)).status).toBe(403);
    expect((await approve('erin', submitted.id)).status).toBe(200);
    expect((await stack.waitForRequest(as('bob'), submitted.id, ended)).status).toBe('fulfilled');
  });

  it('routes a request on behalf of someone to the beneficiary’s manager', async () => {
    const submitted = await submitForApproval('dave', {
      catalogItemId: 'financial-reporting',
      onBehalfOf: 'carol',
    });
    expect(submitted.requester).toBe('dave');
    expect(submitted.steps.find((s) => s.name === 'approval_level_1')?.detail).toContain('manager of carol');
    await approve('erin', submitted.id);
    expect((await stack.waitForRequest(as('dave'), submitted.id, ended)).status).toBe('fulfilled');
  });

  it('lets a delegate decide while the approver is away, and two racing decisions get one 200 and one 409', async () => {
    const put = await stack.call('PUT', '/api/delegation', {
      token: as('erin'),
      body: { delegateId: 'dave' },
    });
    expect(put.status).toBe(200);
    try {
      const submitted = await requestFinReporting();
      const daves = await stack.call('GET', '/api/approvals', { token: as('dave') });
      expect((daves.body as { items: { requestId: string; approver: string }[] }).items).toContainEqual(
        expect.objectContaining({ requestId: submitted.id, approver: 'erin' }),
      );
      const [a, b] = await Promise.all([
        approve('dave', submitted.id),
        approve('erin', submitted.id, 'deny'),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
      expect(done.approvals).toHaveLength(1);
      if (a.status === 200) expect(done.approvals[0]).toMatchObject({ approver: 'dave', onBehalfOf: 'erin' });
    } finally {
      await stack.call('DELETE', '/api/delegation', { token: as('erin') });
    }
  });
});

describe('cancellation', () => {
  it('lets the requester cancel while pending; the approval disappears from the approver’s list', async () => {
    const submitted = await requestFinReporting();
    expect(
      (await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('erin') })).status,
    ).toBe(403);
    const res = await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('carol') });
    expect(res.status).toBe(202);
    const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
    expect(done.status).toBe('cancelled');
    const pending = await stack.call('GET', '/api/approvals', { token: as('erin') });
    expect((pending.body as { items: { requestId: string }[] }).items.map((i) => i.requestId)).not.toContain(
      submitted.id,
    );
    expect(
      (await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('carol') })).status,
    ).toBe(409);
    expect((await approve('erin', submitted.id)).status).toBe(409);
  });
});

describe('approve/deny links', () => {
  const linkPath = (url: string) => new URL(url).pathname;

  it('shows a confirmation on GET without deciding, decides once on POST', async () => {
    const submitted = await requestFinReporting();
    const [ask] = await notificationsOf(submitted.id, 'erin');
    const approveLink = linkPath(ask!.links.approve!);
    const page = await fetch(`${stack.apiUrl}${approveLink}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Quarter-end close');
    expect(
      (await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('carol') })).body,
    ).toMatchObject({
      status: 'awaiting_approval',
      approvals: [],
    });
    const confirm = await fetch(`${stack.apiUrl}${approveLink}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'comment=via+mail',
    });
    expect(confirm.status).toBe(200);
    const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
    expect(done.approvals[0]).toMatchObject({ approver: 'erin', via: 'link', comment: 'via mail' });
    const reused = await fetch(`${stack.apiUrl}${approveLink}`, { method: 'POST' });
    expect(reused.status).toBe(409);
  });

  it('refuses forged and expired links and changes nothing', async () => {
    const submitted = await requestFinReporting();
    const [ask] = await notificationsOf(submitted.id, 'erin');
    const real = linkPath(ask!.links.approve!);
    const forged = `${real.slice(0, -3)}${real.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    expect((await fetch(`${stack.apiUrl}${forged}`, { method: 'POST' })).status).toBe(403);
    const otherSecret = signApprovalLink(
      'not-our-secret',
      { requestId: submitted.id, approver: 'erin', decision: 'approve' },
      60_000,
    );
    expect((await fetch(`${stack.apiUrl}/approvals/links/${otherSecret}`, { method: 'POST' })).status).toBe(
      403,
    );
    const secret = readFileSync(join(stack.dataDir, 'secret'), 'utf8').trim();
    const expired = signApprovalLink(
      secret,
      { requestId: submitted.id, approver: 'erin', decision: 'approve' },
      -1,
    );
    expect((await fetch(`${stack.apiUrl}/approvals/links/${expired}`, { method: 'POST' })).status).toBe(410);
    const foreign = signApprovalLink(
      secret,
      { requestId: submitted.id, approver: 'dave', decision: 'approve' },
      60_000,
    );
    expect((await fetch(`${stack.apiUrl}/approvals/links/${foreign}`, { method: 'POST' })).status).toBe(403);
    const view = (await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('carol') }))
      .body as RequestView;
    expect(view.status).toBe('awaiting_approval');
    expect(view.approvals).toEqual([]);
    expect(await updateEvents(submitted.id)).toBe(0);
    await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('carol') });
  });
});

describe('change models', () => {
  it('holds a Normal Change for the CAB while a Standard Change goes straight through', async () => {
    const normal = await submitForApproval('alice', { catalogItemId: 'photoshop', deviceId: 'LAPTOP-ALICE' });
    expect(normal.status).toBe('awaiting_approval');
    expect(normal.steps.find((s) => s.name === 'approval_level_1')?.detail).toContain(
      'Change Advisory Board',
    );
    const standard = await stack.submit(as('alice'), { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE' });
    const visio = await stack.waitForRequest(as('alice'), standard.id, ended);
    expect(visio.status).toBe('fulfilled');
    expect(visio.steps.some((s) => s.name.startsWith('approval_level'))).toBe(false);
    expect(
      ((await stack.call('GET', `/api/requests/${normal.id}`, { token: as('alice') })).body as RequestView)
        .status,
    ).toBe('awaiting_approval');
    expect((await approve('erin', normal.id, 'approve', 'CAB 2026-11-24')).status).toBe(200);
    const done = await stack.waitForRequest(as('alice'), normal.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.approvals[0]).toMatchObject({ kind: 'cab', approver: 'erin' });
  });
});
