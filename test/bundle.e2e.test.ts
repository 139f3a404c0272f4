import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import * as t from '../db/schema.js';
import { recordHistory } from './helpers/histories.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// A bundle ("New starter kit": laptop, monitor, VPN access) over HTTP against the
// real stack: one parent request, one child workflow per item.

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  for (const u of ['alice', 'bob', 'dave']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
});

type Bundle = RequestView & { children?: { id: string; catalogItemId: string; status: string }[] };
const as = (user: string) => tokens[user]!;
const view = async (id: string) =>
  (await stack.call('GET', `/api/requests/${id}`, { token: as('alice') })).body as Bundle;

/** Completes the procurement task a child waits on in `step`. */
async function complete(childId: string, step: string, outcome: string, resolution?: string) {
  await stack.waitForRequest(as('alice'), childId, (r) =>
    r.steps.some((s) => s.name === step && s.state === 'waiting'),
  );
  const list = await stack.call('GET', `/api/tasks?requestId=${childId}`, { token: as('dave') });
  const task = (list.body as { items: { id: string }[] }).items[0]!;
  const res = await stack.call('POST', `/api/tasks/${task.id}/complete`, {
    token: as('dave'),
    body: { outcome, ...(resolution ? { resolution } : {}) },
  });
  expect(res.status).toBe(200);
}

async function children(id: string): Promise<Record<string, string>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await view(id);
    if (v.children?.length === 3) return Object.fromEntries(v.children.map((c) => [c.catalogItemId, c.id]));
    if (Date.now() > deadline) throw new Error(`bundle ${id} has no three children: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const approve = (id: string) =>
  stack.call('POST', `/api/requests/${id}/approvals`, { token: as('bob'), body: { decision: 'approve' } });

describe('bundles', () => {
  it('fulfills the parent when all three items are fulfilled, showing each child', async () => {
    const parent = await stack.submit(as('alice'), {
      catalogItemId: 'new-starter-kit',
      justification: 'Day one',
    });
    const kids = await children(parent.id);
    expect(Object.keys(kids).sort()).toEqual(['laptop', 'second-monitor', 'vpn-access']);
    await stack.waitForRequest(as('alice'), kids['laptop']!, awaitingApproval);
    await stack.waitForRequest(as('alice'), kids['second-monitor']!, awaitingApproval);
    expect((await approve(kids['laptop']!)).status).toBe(200);
    expect((await approve(kids['second-monitor']!)).status).toBe(200);
    for (const [item, tag] of [
      ['laptop', 'LAP-0007'],
      ['second-monitor', 'MON-0077'],
    ] as const) {
      await complete(kids[item]!, 'supplier_order', 'ordered');
      await complete(kids[item]!, 'shipment', 'shipped');
      await complete(kids[item]!, 'delivery', 'delivered', tag);
    }
    const done = await stack.waitForRequest(as('alice'), parent.id, ended, 60_000);
    expect(done.status).toBe('fulfilled');
    const shown = await view(parent.id);
    expect(shown.children?.map((c) => c.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(shown.steps.filter((s) => s.name.startsWith('item_')).map((s) => s.state)).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    const child = await view(kids['vpn-access']!);
    expect(child.parentId).toBe(parent.id);
    await recordHistory(stack.temporal.workflow.getHandle(parent.id), 'all-items-fulfilled');
  });

  it('cancels every unfinished child, each unwinding what it did', async () => {
    const parent = await stack.submit(as('alice'), { catalogItemId: 'new-starter-kit' });
    const kids = await children(parent.id);
    await stack.waitForRequest(as('alice'), kids['laptop']!, awaitingApproval);
    expect((await approve(kids['laptop']!)).status).toBe(200);
    await complete(kids['laptop']!, 'supplier_order', 'ordered');
    await stack.waitForRequest(as('alice'), kids['second-monitor']!, awaitingApproval);
    expect((await stack.waitForRequest(as('alice'), kids['vpn-access']!, ended)).status).toBe('fulfilled');

    expect(
      (await stack.call('POST', `/api/requests/${parent.id}/cancel`, { token: as('alice') })).status,
    ).toBe(202);
    const done = await stack.waitForRequest(as('alice'), parent.id, ended, 60_000);
    expect(done.status).toBe('cancelled');
    const laptop = await view(kids['laptop']!);
    const monitor = await view(kids['second-monitor']!);
    expect(laptop.status).toBe('cancelled');
    expect(monitor.status).toBe('cancelled');
    // The laptop's purchase order is cancelled; the monitor's approval is off the manager's list.
    const [po] = await stack.db
      .select()
      .from(t.procurementOrders)
      .where(eq(t.procurementOrders.requestId, laptop.id));
    expect(po?.state).toBe('cancelled');
    const pending = await stack.call('GET', '/api/approvals', { token: as('bob') });
    expect((pending.body as { items: { requestId: string }[] }).items.map((i) => i.requestId)).not.toContain(
      monitor.id,
    );
    // VPN access was granted at once (not sensitive), but alice already had it from the kit
    // of the test before, which stands: the cancellation removes nothing and says so.
    const vpn = await stack.db
      .select()
      .from(t.securityGroupMembers)
      .where(eq(t.securityGroupMembers.requestId, kids['vpn-access']!));
    expect(vpn).toEqual([]);
    const shown = await view(parent.id);
    expect(shown.steps.find((s) => s.name === 'item_vpn-access')?.detail).toContain('nothing to revoke');
    expect((await view(kids['vpn-access']!)).status).toBe('cancelled');
    await recordHistory(stack.temporal.workflow.getHandle(parent.id), 'cancelled-unwinding-children');
  });
});
