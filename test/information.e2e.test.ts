import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { isFinalStatus } from '../domain/status.js';
import { recordHistory } from './helpers/histories.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// Information requests and manual tasks over HTTP against the real stack.

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  for (const u of ['alice', 'bob', 'dave', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (user: string) => tokens[user]!;
const ask = (question: string, user = 'alice') =>
  stack.submit(as(user), { catalogItemId: 'vpn-address', fields: { question } });
/** Asks, and waits for the answer when the POST came back before it (a loaded machine, a cold worker). */
const askAndWait = async (question: string) => {
  const posted = await ask(question);
  return isFinalStatus(posted.status) ? posted : stack.waitForRequest(as('alice'), posted.id, ended);
};
interface TaskView {
  id: string;
  state: string;
  assignee: string | null;
  requestId: string;
  description: string;
  comments: { author: string; body: string }[];
}
async function taskOf(requestId: string): Promise<TaskView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await stack.call('GET', `/api/tasks?requestId=${requestId}`, { token: as('dave') });
    const item = (res.body as { items: TaskView[] }).items[0];
    if (item) return item;
    if (Date.now() > deadline) throw new Error(`no task for ${requestId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const answersTo = (requestId: string) =>
  stack.db
    .select({ subject: t.notifications.subject, body: t.notifications.body })
    .from(t.notifications)
    .where(and(eq(t.notifications.requestId, requestId), eq(t.notifications.recipientId, 'alice')))
    .orderBy(t.notifications.id);

describe('information requests', () => {
  it('answers from the knowledge base, in the same call when the search is done within the submit wait', async () => {
    const answered = await askAndWait("What's the VPN server address?");
    expect(answered.status).toBe('fulfilled');
    expect(answered.outcome?.message).toContain('vpn.example.com');
    expect(answered.outcome?.reason).toContain('KB-VPN-ADDRESS');
  });

  it('hands a question the knowledge base cannot answer to the service desk, and sends the answer back', async () => {
    const submitted = await ask('Can I bring my own sourdough starter to the office fridge?');
    // Status, then whom it waits on: published one after the other.
    const waiting = await stack.waitForRequest(
      as('alice'),
      submitted.id,
      (r) => r.status === 'awaiting_task' && r.waitingOn !== null,
    );
    expect(waiting.steps.find((s) => s.name === 'service_desk_answer')?.state).toBe('waiting');
    expect(waiting.waitingOn?.who).toEqual(['group:service-desk']);
    const task = await taskOf(submitted.id);
    expect(task.description).toContain('sourdough');

    // Only the service desk (and operators) see or act on its tasks.
    expect((await stack.call('GET', `/api/tasks/${task.id}`, { token: as('alice') })).status).toBe(404);
    const byAlice = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
      token: as('alice'),
      body: { outcome: 'answered', resolution: 'yes' },
    });
    expect(byAlice.status).toBe(404);
    expect(
      ((await stack.call('GET', '/api/tasks', { token: as('bob') })).body as { items: unknown[] }).items,
    ).toEqual([]);

    const claimed = await stack.call('POST', `/api/tasks/${task.id}/claim`, { token: as('dave') });
    expect(claimed.body).toMatchObject({ state: 'claimed', assignee: 'dave' });
    const commented = await stack.call('POST', `/api/tasks/${task.id}/comments`, {
      token: as('dave'),
      body: { body: 'Checking with facilities' },
    });
    expect((commented.body as TaskView).comments).toEqual([
      expect.objectContaining({ author: 'dave', body: 'Checking with facilities' }),
    ]);
    const badOutcome = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
      token: as('dave'),
      body: { outcome: 'whatever' },
    });
    expect(badOutcome.status).toBe(422);

    const done = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
      token: as('dave'),
      body: { outcome: 'answered', resolution: 'Yes, on the second shelf, labelled with your name.' },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'completed', outcome: 'answered', completedBy: 'dave' });
    const finished = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(finished.status).toBe('fulfilled');
    expect(finished.outcome?.message).toContain('second shelf');
    expect(await answersTo(submitted.id)).toContainEqual(
      expect.objectContaining({ subject: 'The service desk answered your question' }),
    );
    const again = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
      token: as('dave'),
      body: { outcome: 'answered', resolution: 'again' },
    });
    expect(again.status).toBe(409);
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'answered-by-service-desk');
  });

  it('escalates when the requester says the answer did not help', async () => {
    const answered = await askAndWait("What's the VPN server address?");
    expect(answered.status).toBe('fulfilled');
    const notYours = await stack.call('POST', `/api/requests/${answered.id}/answer-feedback`, {
      token: as('olga'),
      body: { helpful: false },
    });
    expect(notYours.status).toBe(403);
    const res = await stack.call('POST', `/api/requests/${answered.id}/answer-feedback`, {
      token: as('alice'),
      body: { helpful: false, comment: 'I am in the Lisbon office' },
    });
    expect(res.status).toBe(200);
    const task = await taskOf(answered.id);
    expect(task.description).toContain('Lisbon');
    await stack.call('POST', `/api/tasks/${task.id}/complete`, {
      token: as('dave'),
      body: { outcome: 'answered', resolution: 'Lisbon uses vpn-lis.example.com.' },
    });
    const done = await stack.waitForRequest(
      as('alice'),
      answered.id,
      (r) => r.outcome?.message.includes('vpn-lis') === true,
    );
    expect(done.status).toBe('fulfilled');
    const twice = await stack.call('POST', `/api/requests/${answered.id}/answer-feedback`, {
      token: as('alice'),
      body: { helpful: false },
    });
    expect(twice.status).toBe(409);
    await recordHistory(stack.temporal.workflow.getHandle(answered.id), 'article-did-not-help');
  });

  it('reassigns within a group only to its members, and cancels the task with the request', async () => {
    const submitted = await ask('Where do I park my bicycle overnight?');
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.status === 'awaiting_task');
    const task = await taskOf(submitted.id);
    const toOutsider = await stack.call('POST', `/api/tasks/${task.id}/reassign`, {
      token: as('dave'),
      body: { assigneeId: 'bob' },
    });
    expect(toOutsider.status).toBe(422);
    const toOlga = await stack.call('POST', `/api/tasks/${task.id}/reassign`, {
      token: as('olga'),
      body: { assigneeId: 'dave' },
    });
    expect(toOlga.body).toMatchObject({ assignee: 'dave', state: 'claimed' });
    await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('alice') });
    expect((await stack.waitForRequest(as('alice'), submitted.id, ended)).status).toBe('cancelled');
    const after = await stack.call('GET', `/api/tasks/${task.id}`, { token: as('dave') });
    expect((after.body as TaskView).state).toBe('cancelled');
  });
});
