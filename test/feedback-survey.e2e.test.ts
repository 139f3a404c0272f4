import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { recordHistory } from './helpers/histories.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Feedback routed to a service owner, and the satisfaction survey reached from a
// real fulfillment notification, over HTTP against the real stack.

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  stack.startAgent('LAPTOP-ALICE');
  for (const u of ['alice', 'bob', 'carol', 'dave']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (user: string) => tokens[user]!;
const notesTo = (requestId: string, recipient: string) =>
  stack.db
    .select()
    .from(t.notifications)
    .where(and(eq(t.notifications.requestId, requestId), eq(t.notifications.recipientId, recipient)))
    .orderBy(t.notifications.id);

async function waitingTask(requestId: string, step: string, user: string) {
  const view = await stack.waitForRequest(as('alice'), requestId, (r) =>
    r.steps.some((s) => s.name === step && s.state === 'waiting'),
  );
  const res = await stack.call('GET', `/api/tasks?requestId=${requestId}`, { token: as(user) });
  return { ...(res.body as { items: { id: string; assignee: string | null }[] }).items[0]!, view };
}

describe('feedback', () => {
  it('reaches the owner of the service it names, who acknowledges and replies', async () => {
    const submitted = await stack.submit(as('alice'), {
      catalogItemId: 'feedback',
      fields: { service: 'the new expense system', message: 'The new expense system is confusing' },
    });
    const ack = await waitingTask(submitted.id, 'owner_acknowledges', 'carol');
    expect(ack.view.steps.find((s) => s.name === 'route_to_owner')?.detail).toContain('owner carol');
    expect(ack.assignee).toBe('carol');
    // Someone else's task: not theirs to see or act on.
    expect((await stack.call('GET', `/api/tasks/${ack.id}`, { token: as('bob') })).status).toBe(404);
    await stack.call('POST', `/api/tasks/${ack.id}/complete`, {
      token: as('carol'),
      body: { outcome: 'acknowledged' },
    });
    const reply = await waitingTask(submitted.id, 'owner_replies', 'carol');
    await stack.call('POST', `/api/tasks/${reply.id}/complete`, {
      token: as('carol'),
      body: {
        outcome: 'resolved',
        resolution: 'Thanks! A step-by-step guide is now on the expenses home page.',
      },
    });
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect((await notesTo(submitted.id, 'alice')).map((n) => n.subject)).toEqual(
      expect.arrayContaining([
        'Your feedback on Expense system was received',
        'Reply to your feedback on Expense system',
      ]),
    );
    expect((await notesTo(submitted.id, 'alice')).find((n) => n.subject.startsWith('Reply'))?.body).toContain(
      'step-by-step guide',
    );
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'owner-replied');
  });

  it('goes to the service desk when no service matches', async () => {
    const submitted = await stack.submit(as('alice'), {
      catalogItemId: 'feedback',
      fields: { service: 'the coffee machine', message: 'Too weak' },
    });
    const task = await waitingTask(submitted.id, 'owner_acknowledges', 'dave');
    expect(task.assignee).toBeNull();
    await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('alice') });
    expect((await stack.waitForRequest(as('alice'), submitted.id, ended)).status).toBe('cancelled');
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'cancelled-at-service-desk');
  });
});

describe('satisfaction survey', () => {
  it('is linked from the fulfillment notification and stores the answer', async () => {
    const submitted = await stack.submit(as('alice'), { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE' });
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    const note = (await notesTo(submitted.id, 'alice')).find((n) =>
      n.subject.includes('installed successfully'),
    );
    const link = note!.links.survey!;
    expect(link).toContain(`/surveys/${submitted.id}?t=`);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('How satisfied are you');
    const posted = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'score=5&comment=Installed+before+my+coffee+was+ready',
    });
    expect(posted.status).toBe(200);
    const answer = await stack.call('GET', `/api/requests/${submitted.id}/survey`, { token: as('alice') });
    expect(answer.body).toMatchObject({
      answered: true,
      score: 5,
      comment: 'Installed before my coffee was ready',
    });
    const forged = await fetch(link.replace(/t=.{4}/, 't=AAAA'), {
      method: 'POST',
      body: 'score=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.status).toBe(403);
  });

  it('lets the requester and the fulfillers talk on the request', async () => {
    const submitted = await stack.submit(as('alice'), {
      catalogItemId: 'second-monitor',
      justification: 'Code review',
    });
    const posted = await stack.call('POST', `/api/requests/${submitted.id}/comments`, {
      token: as('alice'),
      body: { body: 'A 4K one if possible, please' },
    });
    expect(posted.status).toBe(201);
    // Bob approves, so he is part of the request and sees the conversation (once asked).
    await stack.waitForRequest(as('alice'), submitted.id, awaitingApproval);
    const read = await stack.call('GET', `/api/requests/${submitted.id}/comments`, { token: as('bob') });
    expect((read.body as { items: { author: string; body: string }[] }).items).toEqual([
      expect.objectContaining({ author: 'alice', body: 'A 4K one if possible, please' }),
    ]);
    expect(
      (await stack.call('GET', `/api/requests/${submitted.id}/comments`, { token: as('carol') })).status,
    ).toBe(404);
    await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('alice') });
  });
});
