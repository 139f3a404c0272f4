import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// Provisioning over /scim/v2 the way Entra ID and Okta do it, and what it changes for the
// people using reqflow: the real worker, API and Temporal, all over HTTP.

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  for (const u of ['alice', 'bob', 'dave', 'erin']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (user: string) => tokens[user]!;
const patch = (...Operations: object[]) => ({ schemas: [PATCH_OP], Operations });
const usersWhere = (filter: string) => stack.scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
/** Submits an access request and waits until its approvers have been asked (the POST may answer before). */
async function requestFinReporting(user: string) {
  const submitted = await stack.submit(as(user), {
    catalogItemId: 'financial-reporting',
    justification: 'Budget review',
  });
  return stack.waitForRequest(as(user), submitted.id, (r) => r.status === 'awaiting_approval');
}

interface Listed {
  totalResults: number;
  Resources: { id: string }[];
}
interface PendingApprovals {
  items: { requestId: string; approver: string }[];
}
interface Tasks {
  items: { id: string; requestId: string }[];
}

const pendingFor = async (user: string) =>
  ((await stack.call('GET', '/api/approvals', { token: as(user) })).body as PendingApprovals).items;
const tasksOf = async (user: string, requestId: string) =>
  (
    (await stack.call('GET', `/api/tasks?requestId=${requestId}`, { token: as(user) })).body as Tasks
  ).items.map((task) => task.id);

describe('SCIM provisioning, seen from reqflow', () => {
  it("creates a person with their manager; the manager approves the new person's access request", async () => {
    // Entra ID looks the person up by userName before creating them.
    expect(((await usersWhere('userName eq "Hana.Ito@example.com"')).body as Listed).totalResults).toBe(0);
    const created = await stack.scim('POST', '/Users', {
      schemas: [USER, ENTERPRISE],
      externalId: '7f3c9a2e-entra-hana',
      userName: 'Hana.Ito@example.com',
      active: true,
      displayName: 'Hana Ito',
      title: 'Finance Analyst',
      emails: [{ primary: true, type: 'work', value: 'hana.ito@example.com' }],
      name: { givenName: 'Hana', familyName: 'Ito' },
      [ENTERPRISE]: { department: 'Finance', manager: { value: 'bob' } },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toContain('application/scim+json');
    expect(created.body).toMatchObject({ id: 'hana.ito', [ENTERPRISE]: { manager: { value: 'bob' } } });
    const found = (await usersWhere('userName eq "hana.ito@example.com"')).body as Listed;
    expect(found).toMatchObject({ totalResults: 1, Resources: [{ id: 'hana.ito' }] });

    tokens['hana.ito'] = await stack.login('hana.ito');
    const submitted = await requestFinReporting('hana.ito');
    expect(submitted.waitingOn).toMatchObject({ what: 'approval: manager of hana.ito', who: ['bob'] });
    expect((await pendingFor('bob')).map((p) => p.requestId)).toContain(submitted.id);

    const decided = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: as('bob'),
      body: { decision: 'approve' },
    });
    expect(decided.status).toBe(200);
    const done = await stack.waitForRequest(as('hana.ito'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.approvals).toEqual([expect.objectContaining({ approver: 'bob', decision: 'approve' })]);
  });

  it('moves a deactivated approver\'s pending approval up the chain (Entra\'s active: "False")', async () => {
    const submitted = await requestFinReporting('alice');
    expect(submitted.waitingOn).toMatchObject({ who: ['bob'] });
    expect((await pendingFor('bob')).map((p) => p.requestId)).toContain(submitted.id);

    const off = await stack.scim(
      'PATCH',
      '/Users/bob',
      patch({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: 'bob', active: false });

    const moved = await stack.waitForRequest(
      as('alice'),
      submitted.id,
      // Whom it waits on and the step's detail are two writes of the workflow: wait for both.
      (r) =>
        r.waitingOn?.who.includes('erin') === true &&
        Boolean(r.steps.find((s) => s.name === 'approval_level_1')?.detail?.includes('deactivated')),
    );
    expect(moved.status).toBe('awaiting_approval');
    expect(moved.waitingOn).toMatchObject({ what: 'approval: manager of alice', who: ['erin'] });
    expect(moved.steps.find((s) => s.name === 'approval_level_1')?.detail).toContain(
      'bob was deactivated in the directory; the approval moved to erin.',
    );
    expect(await pendingFor('erin')).toContainEqual(
      expect.objectContaining({ requestId: submitted.id, approver: 'erin' }),
    );
    const [bobsTask] = await stack.db
      .select()
      .from(t.approvalTasks)
      .where(and(eq(t.approvalTasks.requestId, submitted.id), eq(t.approvalTasks.approverId, 'bob')))
      .limit(1);
    expect(bobsTask?.state).toBe('superseded');

    // Bob's sign-in stops working; his history stays.
    expect((await stack.call('POST', '/api/dev/login', { body: { userId: 'bob' } })).status).toBe(422);
    expect((await stack.call('GET', '/api/approvals', { token: as('bob') })).status).toBe(403);

    const decided = await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: as('erin'),
      body: { decision: 'approve', comment: 'covering for bob' },
    });
    expect(decided.status).toBe(200);
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.approvals).toEqual([expect.objectContaining({ approver: 'erin', decision: 'approve' })]);
    const trail = (
      await stack.db
        .select()
        .from(t.auditLog)
        .where(eq(t.auditLog.requestId, submitted.id))
        .orderBy(t.auditLog.seq)
    ).map((e) => e.action);
    expect(trail).toContain('approval.rerouted');
    const directoryTrail = (
      await stack.db
        .select()
        .from(t.auditLog)
        .where(and(eq(t.auditLog.subject, 'bob'), eq(t.auditLog.actor, 'scim')))
        .orderBy(t.auditLog.seq)
    ).map((e) => e.action);
    expect(directoryTrail).toEqual(['user.deactivated']);
  });

  it('decides who sees a task queue by the group memberships the provider sends', async () => {
    const asked = await stack.submit(as('alice'), {
      catalogItemId: 'vpn-address',
      fields: { question: 'May I keep a sourdough starter in the office fridge?' },
    });
    await stack.waitForRequest(as('alice'), asked.id, (r) => r.status === 'awaiting_task');
    const deadline = Date.now() + 20_000;
    while ((await tasksOf('dave', asked.id)).length === 0) {
      if (Date.now() > deadline) throw new Error(`no service-desk task for ${asked.id}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await tasksOf('hana.ito', asked.id)).toEqual([]);

    // Entra ID creates the group (it binds to reqflow's service desk), then adds Hana.
    const group = await stack.scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Service Desk',
      externalId: 'b1e2-entra-service-desk',
      members: [{ value: 'dave' }],
    });
    expect(group.status).toBe(201);
    expect(group.body).toMatchObject({ id: 'service-desk' });
    const added = await stack.scim(
      'PATCH',
      '/Groups/service-desk',
      patch({ op: 'Add', path: 'members', value: [{ value: 'hana.ito' }] }),
    );
    expect(added.status).toBe(200);
    const [taskId] = await tasksOf('hana.ito', asked.id);
    expect(taskId).toBeDefined();

    // Okta removes Dave by a filtered path: the queue is no longer his.
    const removed = await stack.scim(
      'PATCH',
      '/Groups/service-desk',
      patch({ op: 'remove', path: 'members[value eq "dave"]' }),
    );
    expect(removed.status).toBe(200);
    expect(await tasksOf('dave', asked.id)).toEqual([]);
    expect((await stack.call('GET', `/api/tasks/${taskId}`, { token: as('dave') })).status).toBe(404);

    const completed = await stack.call('POST', `/api/tasks/${taskId}/complete`, {
      token: as('hana.ito'),
      body: { outcome: 'answered', resolution: 'Yes, on the bottom shelf, labelled.' },
    });
    expect(completed.status).toBe(200);
    const done = await stack.waitForRequest(as('alice'), asked.id, ended);
    expect(done.status).toBe('fulfilled');
  });
});
