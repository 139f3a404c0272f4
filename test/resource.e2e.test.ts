import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { recordHistory } from './helpers/histories.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Resource requests (a second monitor) over HTTP against the real stack: approval,
// purchase order, procurement tasks, CMDB asset, and the ways it can end.

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  for (const u of ['alice', 'bob', 'dave']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (user: string) => tokens[user]!;
/**
 * Orders a monitor and waits until Bob can decide. The POST answer says `awaiting_approval`
 * only when the workflow got there within the submit wait, which a loaded machine (or a worker
 * still starting) does not promise; it never says anything else than a status on the way.
 */
const order = async () => {
  const posted = await stack.submit(as('alice'), {
    catalogItemId: 'second-monitor',
    justification: 'Two screens for code review',
  });
  expect(['submitted', 'checking_entitlement', 'awaiting_approval']).toContain(posted.status);
  return stack.waitForRequest(as('alice'), posted.id, awaitingApproval);
};
const orderOf = async (requestId: string) =>
  (await stack.db.select().from(t.procurementOrders).where(eq(t.procurementOrders.requestId, requestId)))[0];

/** Completes the procurement task the request waits on in step `step`. */
async function completeStep(requestId: string, step: string, outcome: string, resolution?: string) {
  await stack.waitForRequest(as('alice'), requestId, (r) =>
    r.steps.some((s) => s.name === step && s.state === 'waiting'),
  );
  const list = await stack.call('GET', `/api/tasks?requestId=${requestId}`, { token: as('dave') });
  const task = (list.body as { items: { id: string; state: string }[] }).items[0]!;
  const res = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
    token: as('dave'),
    body: { outcome, ...(resolution ? { resolution } : {}) },
  });
  expect(res.status).toBe(200);
}

describe('resource requests', () => {
  it('goes from approval through order, shipment and delivery to a CMDB asset', async () => {
    const submitted = await order();
    // The POST answers after SUBMIT_WAIT_MS at the latest, possibly before the approver is asked.
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.status === 'awaiting_approval');
    expect(
      (
        await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
          token: as('bob'),
          body: { decision: 'approve' },
        })
      ).status,
    ).toBe(200);
    await completeStep(submitted.id, 'supplier_order', 'ordered');
    expect(await orderOf(submitted.id)).toMatchObject({
      state: 'ordered',
      item: 'Second monitor',
      costCents: 24900,
    });
    await completeStep(submitted.id, 'shipment', 'shipped', 'tracking 1Z999');
    await completeStep(submitted.id, 'delivery', 'delivered', 'MON-0042');
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.outcome?.message).toContain('MON-0042');
    expect(await orderOf(submitted.id)).toMatchObject({ state: 'delivered', assetTag: 'MON-0042' });
    const [ci] = await stack.db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, 'HW-MON-0042'));
    expect(ci?.ciClass).toBe('hardware_asset');
    expect(ci?.attributes).toMatchObject({ assignedTo: 'alice', assetTag: 'MON-0042' });
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'delivered');
  });

  it('ends as denied when the manager says no, with no order placed', async () => {
    const submitted = await order();
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.status === 'awaiting_approval');
    await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: as('bob'),
      body: { decision: 'deny', comment: 'Use the shared monitors' },
    });
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('denied');
    expect(await orderOf(submitted.id)).toBeUndefined();
  });

  it('cancels the purchase order and the open task when cancelled while ordered', async () => {
    const submitted = await order();
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.status === 'awaiting_approval');
    await stack.call('POST', `/api/requests/${submitted.id}/approvals`, {
      token: as('bob'),
      body: { decision: 'approve' },
    });
    await completeStep(submitted.id, 'supplier_order', 'ordered');
    await stack.waitForRequest(as('alice'), submitted.id, (r) => r.steps.some((s) => s.name === 'shipment'));
    expect(
      (await stack.call('POST', `/api/requests/${submitted.id}/cancel`, { token: as('alice') })).status,
    ).toBe(202);
    const done = await stack.waitForRequest(as('alice'), submitted.id, ended);
    expect(done.status).toBe('cancelled');
    expect((await orderOf(submitted.id))?.state).toBe('cancelled');
    const open = await stack.db.select().from(t.tasks).where(eq(t.tasks.requestId, submitted.id));
    expect(open.map((x) => x.state).sort()).toEqual(['cancelled', 'completed']);
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'cancelled-while-ordered');
  });
});
