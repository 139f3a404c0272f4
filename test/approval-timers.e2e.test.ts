import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { eventually } from './helpers/eventually.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Reminder, escalation and expiry over HTTP on the real stack, with the delays
// configured down to seconds (the same timers run for days in production).

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), {
    APPROVAL_REMIND_AFTER: '1s',
    APPROVAL_ESCALATE_AFTER: '2s',
    // Far enough after the escalation that a loaded CI machine still decides in time.
    APPROVAL_EXPIRE_AFTER: '20s',
    RESOURCE_DELIVERY_TIMEOUT: '2s',
  });
  for (const u of ['alice', 'bob', 'dave', 'erin']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

/** The subjects of a recipient's notifications about a request, oldest first. */
const subjectsFor = async (requestId: string, recipient: string) =>
  (
    await stack.db
      .select({ subject: t.notifications.subject })
      .from(t.notifications)
      .where(and(eq(t.notifications.requestId, requestId), eq(t.notifications.recipientId, recipient)))
      .orderBy(t.notifications.id)
  ).map((n) => n.subject);

// An SLA alert records its step first, then its audit entry, then its notifications: a test
// that saw the step waits for the rest the same way (eventually: a deadline, not a timing).

describe('approval timers', () => {
  it("reminds the approver, escalates to the approver's manager, who then decides", async () => {
    // Alice's manager is Bob; Bob's manager is Erin.
    const submitted = await stack.submit(tokens.alice!, {
      catalogItemId: 'financial-reporting',
      justification: 'Budget',
    });
    const escalated = await stack.waitForRequest(tokens.alice!, submitted.id, (r) =>
      r.steps.some((s) => s.detail?.includes('Escalated to erin')),
    );
    expect(escalated.status).toBe('awaiting_approval');
    expect(await subjectsFor(submitted.id, 'bob')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Approval needed/),
        expect.stringMatching(/^Reminder: /),
      ]),
    );
    expect(await subjectsFor(submitted.id, 'erin')).toEqual([expect.stringMatching(/^Escalated: /)]);
    const pending = await stack.call('GET', '/api/approvals', { token: tokens.erin });
    expect((pending.body as { items: { requestId: string }[] }).items.map((i) => i.requestId)).toContain(
      submitted.id,
    );
    const res = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: tokens.erin,
      body: { decision: 'approve', comment: 'Bob is on leave' },
    });
    expect(res.status).toBe(200);
    const done = await stack.waitForRequest(tokens.alice!, submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.approvals[0]).toMatchObject({ approver: 'erin', comment: 'Bob is on leave' });
  });

  it('expires when nobody decides, and tells the requester', { timeout: 120_000 }, async () => {
    const submitted = await stack.submit(tokens.alice!, { catalogItemId: 'financial-reporting' });
    const done = await stack.waitForRequest(tokens.alice!, submitted.id, ended, 90_000);
    expect(done.status).toBe('expired');
    expect(await subjectsFor(submitted.id, 'alice')).toContain(
      'Your request for Financial Reporting System expired',
    );
    const [member] = await stack.db
      .select()
      .from(t.securityGroupMembers)
      .where(
        and(eq(t.securityGroupMembers.userId, 'alice'), eq(t.securityGroupMembers.requestId, submitted.id)),
      );
    expect(member).toBeUndefined();
    const late = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: tokens.bob,
      body: { decision: 'approve' },
    });
    expect(late.status).toBe(409);
  });

  it('escalates a delivery that never comes and cancels the order', async () => {
    const submitted = await stack.submit(tokens.alice!, { catalogItemId: 'second-monitor' });
    await stack.waitForRequest(tokens.alice!, submitted.id, awaitingApproval);
    const approved = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: tokens.bob,
      body: { decision: 'approve' },
    });
    expect(approved.status).toBe(200);
    for (const [step, outcome] of [
      ['supplier_order', 'ordered'],
      ['shipment', 'shipped'],
    ] as const) {
      await stack.waitForRequest(tokens.alice!, submitted.id, (r) =>
        r.steps.some((s) => s.name === step && s.state === 'waiting'),
      );
      const list = await stack.call('GET', `/api/tasks?requestId=${submitted.id}`, { token: tokens.dave });
      const task = (list.body as { items: { id: string }[] }).items[0]!;
      await stack.call('POST', `/api/tasks/${task.id}/complete`, { token: tokens.dave, body: { outcome } });
    }
    const done = await stack.waitForRequest(tokens.alice!, submitted.id, ended);
    expect(done.status).toBe('failed');
    expect(done.outcome?.reason).toBe('delivery_overdue');
    const [po] = await stack.db
      .select()
      .from(t.procurementOrders)
      .where(eq(t.procurementOrders.requestId, submitted.id));
    expect(po?.state).toBe('cancelled');
    const [escalation] = await stack.db.select().from(t.tasks).where(eq(t.tasks.id, done.outcome!.taskId!));
    expect(escalation).toMatchObject({ groupId: 'service-desk', state: 'open' });
  });

  it('warns before an SLA breach and escalates on breach, for the step and for the request', async () => {
    const submitted = await stack.submit(tokens.alice!, {
      catalogItemId: 'quick-question',
      fields: { question: 'Can the office plants be watered on Fridays too?' },
    });
    const breached = await stack.waitForRequest(
      tokens.alice!,
      submitted.id,
      // Each mark is recorded waiting, then settled: wait for both breaches to be settled.
      (r) => r.steps.filter((s) => s.name === 'sla_breach' && s.state !== 'waiting').length === 2,
    );
    const sla = breached.steps.filter((s) => s.name.startsWith('sla_')).map((s) => [s.name, s.state]);
    expect(sla).toEqual(
      expect.arrayContaining([
        ['sla_warning', 'completed'],
        ['sla_breach', 'failed'],
      ]),
    );
    expect(breached.steps.find((s) => s.name === 'sla_breach')?.detail).toContain('task');
    const actions = await eventually(
      async () =>
        (
          await stack.db
            .select()
            .from(t.auditLog)
            .where(eq(t.auditLog.requestId, submitted.id))
            .orderBy(t.auditLog.seq)
        ).map((a) => a.action),
      (all) => all.filter((a) => a === 'sla.breach').length === 2,
    );
    expect(actions).toEqual(expect.arrayContaining(['sla.warning', 'sla.breach']));
    // The service desk is warned; the breach reaches the operators too.
    const breachedFor = (user: string) =>
      eventually(
        () => subjectsFor(submitted.id, user),
        (subjects) => subjects.filter((x) => x.startsWith('SLA breached')).length === 2,
      );
    expect(await breachedFor('dave')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SLA warning/), expect.stringMatching(/^SLA breached/)]),
    );
    expect(await breachedFor('olga')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SLA breached/)]),
    );
    await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: tokens.alice });
  });

  it('stops the SLA clocks while the request waits on its requester', async () => {
    const submitted = await stack.submit(tokens.alice!, {
      catalogItemId: 'quick-question',
      fields: { question: 'May I bring my dog to the office on Fridays?' },
    });
    const taskFor = async (user: string) => {
      const list = await stack.call('GET', `/api/tasks?requestId=${submitted.id}`, { token: tokens[user] });
      return (list.body as { items: { id: string; assignee: string | null }[] }).items[0]!;
    };
    await stack.waitForRequest(
      tokens.alice!,
      submitted.id,
      (r) => r.waitingOn?.who[0] === 'group:service-desk',
    );
    const desk = await taskFor('dave');
    await stack.call('POST', `/api/tasks/${desk.id}/complete`, {
      token: tokens.dave,
      body: { outcome: 'need_more_info', resolution: 'Which office, and how big is the dog?' },
    });
    const pending = await stack.waitForRequest(
      tokens.alice!,
      submitted.id,
      (r) => r.waitingOn?.who[0] === 'alice',
    );
    expect(pending.waitingOn?.what).toContain('Add the details');
    // Longer than the whole 3 s target: a running clock would have breached by now.
    await new Promise((r) => setTimeout(r, 3500));
    const mine = await taskFor('alice');
    expect(mine.assignee).toBe('alice');
    await stack.call('POST', `/api/tasks/${mine.id}/complete`, {
      token: tokens.alice,
      body: { outcome: 'provided', resolution: 'Lisbon; a small terrier' },
    });
    const resumed = await stack.waitForRequest(
      tokens.alice!,
      submitted.id,
      (r) => r.waitingOn?.who[0] === 'group:service-desk',
    );
    const again = await taskFor('dave');
    await stack.call('POST', `/api/tasks/${again.id}/complete`, {
      token: tokens.dave,
      body: { outcome: 'answered', resolution: 'Yes, small dogs are welcome in Lisbon on Fridays.' },
    });
    const done = await stack.waitForRequest(tokens.alice!, submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    // Nothing fired while alice had the request (workflow times: from the moment it waited on
    // her to the moment it waited on the desk again). Before and after, the clocks ran: how far
    // they got there depends on how fast this machine completed the desk's tasks, so that part
    // is not asserted.
    const paused = Date.parse(pending.waitingOn!.since);
    const running = Date.parse(resumed.waitingOn!.since);
    expect(running - paused).toBeGreaterThan(3000);
    const duringPause = done.steps.filter(
      (s) =>
        s.name.startsWith('sla_') && Date.parse(s.startedAt) > paused && Date.parse(s.startedAt) < running,
    );
    expect(duringPause).toEqual([]);
  });
});
