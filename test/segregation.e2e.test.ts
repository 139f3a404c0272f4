import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import * as t from '../db/schema.js';
import { exportHistory } from './helpers/histories.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Segregation of duties in approvals, and secrets kept out of logs and histories, over
// HTTP against the real stack (worker and API processes, the real database, the shared Temporal
// dev server). The API logs every request (LOG_LEVEL=info) and the worker "mails" through
// the log transport, so the tests read what an operator reading the logs would read.

let stack: TestStack;
const tokens: Record<string, string> = {};

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), { LOG_LEVEL: 'info' });
  // A change board of three that needs two approvals, and an item the seeded CAB (Erin) decides.
  await stack.db.insert(t.securityGroups).values({
    id: 'BOARD-READERS',
    name: 'Board papers readers',
    description: 'Board papers (test fixture)',
  });
  await stack.db.insert(t.groups).values({ id: 'change-board', name: 'Change board', kind: 'cab' });
  await stack.db
    .insert(t.groupMembers)
    .values(['erin', 'bob', 'dave'].map((userId) => ({ groupId: 'change-board', userId })));
  const accessItem = {
    type: 'access' as const,
    sensitivity: 'sensitive' as const,
    securityGroup: 'BOARD-READERS',
    fulfillmentGroupId: 'service-desk',
  };
  await stack.db.insert(t.catalogItems).values([
    {
      ...accessItem,
      id: 'board-papers',
      name: 'Board papers',
      description: 'Two of the change board approve (test fixture)',
      approvalPolicy: [{ kind: 'group', groupId: 'change-board', quorum: 2 }],
    },
    {
      ...accessItem,
      id: 'cab-papers',
      name: 'CAB papers',
      description: 'Any CAB member approves (test fixture)',
      approvalPolicy: [{ kind: 'group', groupId: 'cab', quorum: 'any' }],
    },
  ]);
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (user: string) => tokens[user]!;
/**
 * Submits and waits until the request says on whom it waits: the POST answer says so only
 * when the workflow got there within the submit wait, which a loaded machine does not promise.
 */
const submitAwaiting = async (user: string, body: Record<string, unknown>) =>
  stack.waitForRequest(as(user), (await stack.submit(as(user), body)).id, awaitingApproval);
const decide = (user: string, id: string, decision: 'approve' | 'deny' = 'approve') =>
  stack.call('POST', `/api/requests/${id}/approvals`, { token: as(user), body: { decision } });
const inbox = async (user: string) =>
  (
    (await stack.call('GET', '/api/approvals', { token: as(user) })).body as {
      items: { requestId: string; approver: string }[];
    }
  ).items;
const delegate = async (from: string, to: string) =>
  expect(
    (await stack.call('PUT', '/api/delegation', { token: as(from), body: { delegateId: to } })).status,
  ).toBe(200);
const endDelegation = (from: string) => stack.call('DELETE', '/api/delegation', { token: as(from) });
const approvalAudit = async (requestId: string) =>
  (
    await stack.db
      .select()
      .from(t.auditLog)
      .where(and(eq(t.auditLog.requestId, requestId), eq(t.auditLog.action, 'request.approved')))
      .orderBy(t.auditLog.seq)
      .limit(1)
  )[0];

async function updateEvents(id: string): Promise<number> {
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide',
  ).length;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${stack.output.slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('nobody decides a request that benefits them', () => {
  it('the beneficiary cannot decide it as a delegate of the approver', async () => {
    // Bob asks for Alice; Bob is Alice's manager, so Erin decides; Erin delegated to Alice.
    await delegate('erin', 'alice');
    try {
      const submitted = await submitAwaiting('bob', {
        catalogItemId: 'financial-reporting',
        onBehalfOf: 'alice',
        justification: 'Budget tracking',
      });
      expect(submitted.waitingOn).toMatchObject({ who: ['erin'] });
      expect((await inbox('alice')).map((i) => i.requestId)).not.toContain(submitted.id);
      const res = await decide('alice', submitted.id);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await updateEvents(submitted.id)).toBe(0);
      expect((await decide('erin', submitted.id)).status).toBe(200);
      expect((await stack.waitForRequest(as('bob'), submitted.id, ended)).status).toBe('fulfilled');
    } finally {
      await endDelegation('erin');
    }
  });

  it('a manager may delegate to their own report, who still cannot decide their own request through it', async () => {
    await delegate('bob', 'alice');
    try {
      const submitted = await submitAwaiting('alice', { catalogItemId: 'financial-reporting' });
      expect(submitted.waitingOn).toMatchObject({ who: ['bob'] });
      expect((await inbox('alice')).map((i) => i.requestId)).not.toContain(submitted.id);
      expect((await decide('alice', submitted.id)).status).toBe(403);
      expect(await updateEvents(submitted.id)).toBe(0);
      expect((await decide('bob', submitted.id)).status).toBe(200);
      expect((await stack.waitForRequest(as('alice'), submitted.id, ended)).status).toBe('fulfilled');
    } finally {
      await endDelegation('bob');
    }
  });

  it('routing moves past a beneficiary who sits on the deciding group, and the step says why', async () => {
    // Dave (service desk) asks for Erin, the only CAB member.
    const submitted = await submitAwaiting('dave', { catalogItemId: 'cab-papers', onBehalfOf: 'erin' });
    expect(submitted.status).toBe('awaiting_approval');
    expect(submitted.waitingOn).toMatchObject({ who: ['olga'] });
    const step = submitted.steps.find((s) => s.name === 'approval_level_1');
    expect(step?.detail).toContain('erin is who this request is for and cannot approve it');
    expect((await inbox('erin')).map((i) => i.requestId)).not.toContain(submitted.id);
    expect((await decide('erin', submitted.id)).status).toBe(403);
    expect((await decide('olga', submitted.id)).status).toBe(200);
    expect((await stack.waitForRequest(as('dave'), submitted.id, ended)).status).toBe('fulfilled');
  });
});

describe('one person, one vote per level', () => {
  it('a quorum of two on a board of three needs two people; whoever decided is no longer waited on', async () => {
    // Erin is on the board and also Bob's delegate.
    await delegate('bob', 'erin');
    try {
      const submitted = await submitAwaiting('carol', { catalogItemId: 'board-papers' });
      expect([...(submitted.waitingOn?.who ?? [])].sort()).toEqual(['bob', 'dave', 'erin']);
      expect((await inbox('erin')).filter((i) => i.requestId === submitted.id)).toEqual([
        expect.objectContaining({ approver: 'erin' }),
      ]);

      expect((await decide('erin', submitted.id)).status).toBe(200);
      const after = (await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('carol') }))
        .body as RequestView;
      expect(after.status).toBe('awaiting_approval');
      expect([...(after.waitingOn?.who ?? [])].sort()).toEqual(['bob', 'dave']);
      // The operator's recipe finds the request under the people still awaited only.
      const listed = async (who: string) => {
        let n = 0;
        for await (const _ of stack.temporal.workflow.list({
          query: `WorkflowId="${submitted.id}" AND WaitingOn="${who}"`,
        }))
          n++;
        return n;
      };
      await eventually('WaitingOn to drop erin', async () =>
        (await listed('erin')) === 0 ? true : undefined,
      );
      expect(await listed('dave')).toBe(1);

      // A second vote, as Bob's delegate, is refused and the request is not offered again.
      const again = await decide('erin', submitted.id);
      expect(again.status).toBe(409);
      expect((await inbox('erin')).map((i) => i.requestId)).not.toContain(submitted.id);

      expect((await decide('dave', submitted.id)).status).toBe(200);
      const done = await stack.waitForRequest(as('carol'), submitted.id, ended);
      expect(done.status).toBe('fulfilled');
      expect(done.approvals.map((a) => a.approver)).toEqual(['erin', 'dave']);
      expect((await approvalAudit(submitted.id))?.actor).toBe('erin,dave');
    } finally {
      await endDelegation('bob');
    }
  });
});

describe('the audit trail and what a delegate sees', () => {
  it('request.approved names the person who decided a resource request, and on whose behalf', async () => {
    await delegate('bob', 'dave');
    try {
      const submitted = await submitAwaiting('alice', { catalogItemId: 'second-monitor' });
      expect(submitted.waitingOn).toMatchObject({ who: ['bob'] });
      expect((await decide('dave', submitted.id)).status).toBe(200);
      const entry = await eventually('the approval audit entry', () => approvalAudit(submitted.id));
      expect(entry.actor).toBe('dave');
      expect(entry.details).toMatchObject({
        approvals: [expect.objectContaining({ approver: 'dave', onBehalfOf: 'bob' })],
      });
      await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('alice') });
      await stack.waitForRequest(as('alice'), submitted.id, ended);
    } finally {
      await endDelegation('bob');
    }
  });

  it("a delegate sees the approver's pending approvals, not their decided history", async () => {
    await delegate('erin', 'dave');
    try {
      const submitted = await stack.submit(as('carol'), { catalogItemId: 'financial-reporting' });
      expect((await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('dave') })).status).toBe(
        200,
      );
      expect((await decide('erin', submitted.id)).status).toBe(200);
      await stack.waitForRequest(as('carol'), submitted.id, ended);
      expect((await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('dave') })).status).toBe(
        404,
      );
      expect((await stack.call('GET', `/api/requests/${submitted.id}`, { token: as('erin') })).status).toBe(
        200,
      );
    } finally {
      await endDelegation('erin');
    }
  });
});

/** The links in a recipient's notifications about a request, oldest first. */
const linksTo = async (requestId: string, recipient: string) =>
  (
    await stack.db
      .select()
      .from(t.notifications)
      .where(and(eq(t.notifications.requestId, requestId), eq(t.notifications.recipientId, recipient)))
      .orderBy(t.notifications.id)
  ).map((n) => n.links);
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

describe('approve/deny links', () => {
  it('are pages nobody caches or refers on, and stop working when their approver is deactivated', async () => {
    const submitted = await submitAwaiting('alice', { catalogItemId: 'financial-reporting' });
    expect(submitted.waitingOn).toMatchObject({ who: ['bob'] });
    const link = pathOf((await linksTo(submitted.id, 'bob'))[0]!.approve!);
    const page = await fetch(`${stack.apiUrl}${link}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');

    const active = (value: string) =>
      stack.scim('PATCH', '/Users/bob', {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'active', value }],
      });
    expect((await active('False')).status).toBe(200);
    try {
      await stack.waitForRequest(
        as('alice'),
        submitted.id,
        (r) => r.waitingOn?.who.includes('erin') === true,
      );
      const shown = await fetch(`${stack.apiUrl}${link}`);
      expect(shown.status).toBe(403);
      expect(await shown.text()).toContain('no longer active');
      const used = await fetch(`${stack.apiUrl}${link}`, { method: 'POST' });
      expect(used.status).toBe(403);
      expect(used.headers.get('cache-control')).toBe('no-store');
      expect(await updateEvents(submitted.id)).toBe(0);
    } finally {
      expect((await active('True')).status).toBe(200);
    }
    expect((await decide('erin', submitted.id)).status).toBe(200);
    await stack.waitForRequest(as('alice'), submitted.id, ended);
  });
});

describe('secrets stay out of logs and histories', () => {
  it('link and survey tokens appear in no log line and in no workflow history', async () => {
    const submitted = await stack.submit(as('carol'), { catalogItemId: 'financial-reporting' });
    const ask = (await linksTo(submitted.id, 'erin'))[0]!;
    const approvePath = pathOf(ask.approve!);
    const secrets = [ask.approve!, ask.deny!].map((u) => new URL(u).pathname.split('/').at(-1)!);
    expect((await fetch(`${stack.apiUrl}${approvePath}`)).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}${approvePath}`, { method: 'POST' })).status).toBe(200);
    await stack.waitForRequest(as('carol'), submitted.id, ended);

    const survey = await eventually(
      'the survey link',
      async () => (await linksTo(submitted.id, 'carol')).find((l) => l.survey)?.survey,
    );
    const surveyToken = new URL(survey).searchParams.get('t')!;
    expect(surveyToken.length).toBeGreaterThan(10);
    secrets.push(surveyToken);
    const surveyPage = await fetch(`${stack.apiUrl}${pathOf(survey)}`);
    expect(surveyPage.status).toBe(200);
    expect(surveyPage.headers.get('cache-control')).toBe('no-store');
    expect(surveyPage.headers.get('referrer-policy')).toBe('no-referrer');

    // The log transport has "sent" the approval request and the survey by now.
    await eventually('the log transport to send the survey mail', () =>
      stack.output.some((l) => l.includes('mail to') && l.includes('Access granted')) ? true : undefined,
    );
    await eventually('the API to log the survey page', () =>
      stack.output.some((l) => l.includes('/surveys/') && l.includes('t=[redacted]')) ? true : undefined,
    );
    expect(stack.output.some((l) => l.includes('/approvals/links/[redacted]'))).toBe(true);
    for (const secret of secrets) {
      expect(stack.output.filter((l) => l.includes(secret))).toEqual([]);
    }

    const history = await exportHistory(stack.temporal.workflow.getHandle(submitted.id));
    const decoded = `${history}\n${decodePayloads(history)}`;
    for (const secret of secrets) expect(decoded).not.toContain(secret);
    expect(decoded).not.toContain('?t=');
  });
});

/** Payload data in a history is base64 JSON: decode every `data` field to search it. */
function decodePayloads(history: string): string {
  return [...history.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)]
    .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
    .join('\n');
}

describe('every grant points at the approval that allowed it', () => {
  it('walks every membership row to its request.approved audit entry', async () => {
    const rows = await stack.db.select().from(t.securityGroupMembers);
    expect(rows.length).toBeGreaterThan(0);
    const entries = await stack.db
      .select()
      .from(t.auditLog)
      .where(
        inArray(
          t.auditLog.seq,
          rows.map((r) => r.approvalAuditSeq ?? -1),
        ),
      );
    for (const row of rows) {
      expect(row.requestId, `${row.groupId}/${row.userId}`).not.toBeNull();
      const entry = entries.find((e) => e.seq === row.approvalAuditSeq);
      expect(entry, `${row.groupId}/${row.userId}`).toMatchObject({
        action: 'request.approved',
        requestId: row.requestId,
      });
    }
  });
});
