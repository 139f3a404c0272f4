import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import * as t from '../db/schema.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// What a new user found by hand, over HTTP against the real stack (worker, API, agent).

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  for (const u of ['alice', 'bob', 'carol', 'dave', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

type Bundle = RequestView & { children?: { id: string; catalogItemId: string; status: string }[] };
const as = (user: string) => tokens[user]!;
const view = async (id: string, user = 'alice') =>
  (await stack.call('GET', `/api/requests/${id}`, { token: as(user) })).body as Bundle;

async function childrenOf(id: string): Promise<Record<string, string>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await view(id);
    if (v.children?.length === 3) return Object.fromEntries(v.children.map((c) => [c.catalogItemId, c.id]));
    if (Date.now() > deadline) throw new Error(`bundle ${id} has no three children: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Completes the task a request waits on in `step`, as dave (service desk and procurement). */
async function complete(requestId: string, step: string, outcome: string, resolution?: string) {
  await stack.waitForRequest(as('alice'), requestId, (r) =>
    r.steps.some((s) => s.name === step && s.state === 'waiting'),
  );
  const list = await stack.call('GET', `/api/tasks?requestId=${requestId}`, { token: as('dave') });
  const task = (list.body as { items: { id: string; state: string }[] }).items.find(
    (i) => i.state === 'open' || i.state === 'claimed',
  )!;
  const res = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
    token: as('dave'),
    body: { outcome, ...(resolution ? { resolution } : {}) },
  });
  expect(res.status).toBe(200);
}

const vpnMembers = () =>
  stack.db
    .select()
    .from(t.securityGroupMembers)
    .where(and(eq(t.securityGroupMembers.groupId, 'VPN-USERS'), eq(t.securityGroupMembers.userId, 'alice')));

describe('bundles', () => {
  it('waits only on the children still open, and a revoked child shows cancelled', async () => {
    const parent = await stack.submit(as('alice'), { catalogItemId: 'new-starter-kit' });
    const kids = await childrenOf(parent.id);
    // VPN access needs no approval: that child is fulfilled at once, the other two wait for bob.
    expect((await stack.waitForRequest(as('alice'), kids['vpn-access']!, ended)).status).toBe('fulfilled');
    const waiting = await stack.waitForRequest(
      as('alice'),
      parent.id,
      (r) => r.steps.find((s) => s.name === 'item_vpn-access')?.state === 'completed',
    );
    expect(waiting.waitingOn?.who.sort()).toEqual(
      [`request:${kids['laptop']!}`, `request:${kids['second-monitor']!}`].sort(),
    );

    expect(
      (await stack.call('POST', `/api/requests/${parent.id}/cancel`, { token: as('alice') })).status,
    ).toBe(202);
    expect((await stack.waitForRequest(as('alice'), parent.id, ended, 60_000)).status).toBe('cancelled');
    expect(await vpnMembers()).toEqual([]);
    const vpn = await view(kids['vpn-access']!);
    expect(vpn.status).toBe('cancelled');
    expect(vpn.outcome?.message).toBe(`Access revoked: ${parent.id} was cancelled.`);
    expect(vpn.steps.at(-1)).toMatchObject({ name: 'revoke_access', state: 'compensated' });
    expect((await view(parent.id)).steps.find((s) => s.name === 'item_vpn-access')?.detail).toContain(
      'access revoked',
    );
  });

  it('says nothing was revoked when the person has that access through another request', async () => {
    const own = await stack.submit(as('alice'), { catalogItemId: 'vpn-access' });
    expect((await stack.waitForRequest(as('alice'), own.id, ended)).status).toBe('fulfilled');
    const parent = await stack.submit(as('alice'), { catalogItemId: 'new-starter-kit' });
    const kids = await childrenOf(parent.id);
    expect((await stack.waitForRequest(as('alice'), kids['vpn-access']!, ended)).status).toBe('fulfilled');
    expect(
      (await stack.call('POST', `/api/requests/${parent.id}/cancel`, { token: as('alice') })).status,
    ).toBe(202);
    expect((await stack.waitForRequest(as('alice'), parent.id, ended, 60_000)).status).toBe('cancelled');
    // The membership her own request granted stands.
    expect((await vpnMembers()).map((m) => m.requestId)).toEqual([own.id]);
    const step = (await view(parent.id)).steps.find((s) => s.name === 'item_vpn-access');
    expect(step?.detail).not.toContain('access revoked');
    expect(step?.detail).toContain('nothing to revoke');
    const vpn = await view(kids['vpn-access']!);
    expect(vpn.status).toBe('cancelled');
    expect(vpn.outcome?.message).toContain('nothing was removed');
    const audit = await stack.call('GET', `/api/audit?requestId=${parent.id}`, { token: as('olga') });
    const revoked = (audit.body as { items: { action: string; details: { removed?: number } }[] }).items.find(
      (e) => e.action === 'access.revoked',
    );
    expect(revoked?.details.removed).toBe(0);
  });
});

describe('requests on behalf of someone', () => {
  it('mails the beneficiary too, without the requester’s survey link', async () => {
    const submitted = await stack.submit(as('dave'), { catalogItemId: 'vpn-access', onBehalfOf: 'carol' });
    expect((await stack.waitForRequest(as('dave'), submitted.id, ended)).status).toBe('fulfilled');
    const mails = await stack.db
      .select()
      .from(t.notifications)
      .where(and(eq(t.notifications.requestId, submitted.id), eq(t.notifications.recipientId, 'carol')));
    const granted = mails.find((m) => m.subject.startsWith('Access granted'));
    expect(granted?.body).toContain(`dave requested this on your behalf (${submitted.id})`);
    expect(Object.keys(granted?.links ?? {}).sort()).toEqual(['bookmark', 'request']);
    const daves = await stack.db
      .select()
      .from(t.notifications)
      .where(and(eq(t.notifications.requestId, submitted.id), eq(t.notifications.recipientId, 'dave')));
    expect(daves.find((m) => m.subject.startsWith('Access granted'))?.links).toHaveProperty('survey');
  });

  it('names every role that may request for someone else in the 403', async () => {
    const res = await stack.call('POST', '/api/requests', {
      token: as('bob'),
      body: { catalogItemId: 'vpn-access', onBehalfOf: 'carol' },
    });
    expect(res.status).toBe(403);
    expect((res.body as { detail: string }).detail).toBe(
      "Only carol's manager, the service desk or an operator may request on their behalf.",
    );
    const byOperator = await stack.submit(as('olga'), { catalogItemId: 'vpn-access', onBehalfOf: 'carol' });
    expect(byOperator.beneficiary).toBe('carol');
  });
});

describe('resource requests', () => {
  it('wait as awaiting_task on procurement, and the delivered asset is shown in the CMDB', async () => {
    const submitted = await stack.submit(as('alice'), { catalogItemId: 'second-monitor' });
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.status === 'awaiting_approval');
    const [ask] = await stack.db
      .select()
      .from(t.notifications)
      .where(and(eq(t.notifications.requestId, submitted.id), eq(t.notifications.recipientId, 'bob')))
      .orderBy(t.notifications.id)
      .limit(1);
    // There is no portal yet: the mail names what exists.
    expect(ask?.body).not.toContain('portal');
    expect(ask?.body).toContain(`POST /api/requests/${submitted.id}/approvals`);
    const approved = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: as('bob'),
      body: { decision: 'approve' },
    });
    expect(approved.status).toBe(200);

    // The step and the status are two writes of the workflow: wait for both.
    await stack.waitForRequest(
      as('alice'),
      submitted.id,
      (r) =>
        r.status === 'awaiting_task' &&
        r.steps.some((s) => s.name === 'supplier_order' && s.state === 'waiting'),
    );
    // The README's recipe finds it.
    const query = `RequestStatus = "awaiting_task" AND WorkflowId = "${submitted.id}"`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if ((await stack.temporal.workflow.count(query)).count === 1) break;
      if (Date.now() > deadline) throw new Error(`no workflow matches ${query}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await complete(submitted.id, 'supplier_order', 'ordered');
    await complete(submitted.id, 'shipment', 'shipped');
    await complete(submitted.id, 'delivery', 'delivered', 'MON-4711');
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');

    const mine = await stack.call('GET', '/api/cmdb/users/alice', { token: as('alice') });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({
      userId: 'alice',
      devices: expect.arrayContaining([expect.objectContaining({ id: 'LAPTOP-ALICE' })]) as unknown,
      assets: [{ ciId: 'HW-MON-4711', assetTag: 'MON-4711', requestId: submitted.id }],
    });
    expect((await stack.call('GET', '/api/cmdb/users/alice', { token: as('olga') })).status).toBe(200);
    expect((await stack.call('GET', '/api/cmdb/users/alice', { token: as('carol') })).status).toBe(404);

    const ci = await stack.call('GET', '/api/cmdb/cis/HW-MON-4711', { token: as('alice') });
    expect(ci.status).toBe(200);
    expect(ci.body).toMatchObject({
      id: 'HW-MON-4711',
      class: 'hardware_asset',
      attributes: { assignedTo: 'alice', assetTag: 'MON-4711', requestId: submitted.id },
    });
    expect((await stack.call('GET', '/api/cmdb/cis/HW-MON-4711', { token: as('carol') })).status).toBe(404);
    expect((await stack.call('GET', '/api/cmdb/cis/LAPTOP-ALICE', { token: as('alice') })).status).toBe(200);
    expect((await stack.call('GET', '/api/cmdb/cis/NO-SUCH-CI', { token: as('olga') })).status).toBe(404);
  });
});
