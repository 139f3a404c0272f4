import { and, eq } from 'drizzle-orm';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { eventually } from './helpers/eventually.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// The whole thing over HTTP: real worker, real API, real device agent running the
// package scripts, the real database (SQLite or PostgreSQL), the shared real Temporal dev server.

let stack: TestStack;
let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), {
    DEVICE_WAIT_TIMEOUT: '5m',
    SEAT_WAIT_TIMEOUT: '7d',
    // A failed deployment that nobody retries or gives up ends failed as soon as this runs out.
    DEPLOYMENT_DECISION_TIMEOUT: '2s',
  });
  stack.startAgent('LAPTOP-ALICE');
  [alice, bob, carol] = await Promise.all([stack.login('alice'), stack.login('bob'), stack.login('carol')]);
});

afterAll(async () => {
  await stack?.stop();
});

const jobsOf = (requestId: string) =>
  stack.db
    .select()
    .from(t.deploymentJobs)
    .where(eq(t.deploymentJobs.requestId, requestId))
    .orderBy(t.deploymentJobs.attempt);
/**
 * The API signals the workflow before it records a job's result (a failed write is retried by
 * the agent), so a request may end a moment before its last job row says how the job went.
 */
const jobsOnceReported = async (requestId: string) => {
  return eventually(
    () => jobsOf(requestId),
    (js) => js.every((j) => j.state === 'succeeded' || j.state === 'failed'),
    45_000,
  );
};

describe('standard service requests end to end', () => {
  it('installs Visio on LAPTOP-ALICE and records it in the CMDB', async () => {
    const submitted = await stack.submit(alice, {
      catalogItemId: 'visio',
      deviceId: 'LAPTOP-ALICE',
      justification: 'Architecture diagrams for the platform team',
    });
    expect(submitted.id).toMatch(/^REQ-/);
    expect(submitted.requester).toBe('alice');
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    expect(done.outcome?.message).toContain('Microsoft Visio installed successfully');
    expect(done.outcome?.launchUrl).toBeTruthy();
    expect(done.approvals[0]).toMatchObject({ kind: 'standard_change', decision: 'approve' });
    expect(done.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'check_entitlement',
        'reserve_license_seat',
        'record_change',
        'deploy',
        'update_cmdb',
      ]),
    );

    // The agent really ran the package's install script inside the device's install root.
    const root = join(stack.dataDir, 'devices', 'LAPTOP-ALICE', 'root');
    expect(readFileSync(join(root, 'Applications', 'Microsoft Visio', 'VERSION'), 'utf8').trim()).toMatch(
      /^\d+\./,
    );

    const cmdb = await stack.call('GET', '/api/cmdb/devices/LAPTOP-ALICE', { token: alice });
    expect(cmdb.status).toBe(200);
    const device = cmdb.body as {
      installedSoftware: { name: string; requestId: string }[];
      relationships: { type: string }[];
    };
    expect(device.installedSoftware).toEqual([
      expect.objectContaining({ name: 'Microsoft Visio', requestId: submitted.id }),
    ]);
    expect(device.relationships).toEqual([expect.objectContaining({ type: 'installed_on' })]);

    const [seat] = await stack.db
      .select()
      .from(t.licenseAssignments)
      .where(eq(t.licenseAssignments.requestId, submitted.id));
    expect(seat?.state).toBe('assigned');
    const [change] = await stack.db.select().from(t.changes).where(eq(t.changes.requestId, submitted.id));
    expect(change).toMatchObject({ model: 'standard', preAuthorized: true, state: 'closed_successful' });
    const note = (
      await stack.db
        .select()
        .from(t.notifications)
        .where(and(eq(t.notifications.requestId, submitted.id), eq(t.notifications.recipientId, 'alice')))
    ).find((n) => n.subject === 'Microsoft Visio installed successfully');
    expect(note?.links.launch).toBeTruthy();
    expect(note?.links.survey).toContain(`/surveys/${submitted.id}`);

    const audit = await stack.db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.requestId, submitted.id))
      .orderBy(t.auditLog.seq);
    expect(audit.map((a) => a.action)).toEqual(['request.approved', 'software.installed']);
    expect(audit[1]?.details).toMatchObject({
      approval: { kind: 'standard_change' },
      ciId: 'SW-LAPTOP-ALICE-visio',
    });

    const history = await stack.temporal.workflow.getHandle(submitted.id).describe();
    expect(history.typedSearchAttributes.get({ name: 'RequestStatus', type: 'KEYWORD' } as never)).toBe(
      'fulfilled',
    );
  });

  it('rejects a user whose role is not entitled, saying why', async () => {
    const posted = await stack.submit(carol, { catalogItemId: 'visio', deviceId: 'LAPTOP-CAROL' });
    // The answer carries the entitlement result when it came within the submit wait (it
    // usually does); on a loaded machine it may still say the check is under way.
    expect(['submitted', 'checking_entitlement', 'rejected']).toContain(posted.status);
    const submitted = await stack.waitForRequest(carol, posted.id, ended);
    expect(submitted.status).toBe('rejected');
    expect(submitted.outcome?.reason).toContain('not entitled');
    expect(await jobsOf(submitted.id)).toHaveLength(0);
  });

  it('does not deploy when the license pool is exhausted, and says it waits', async () => {
    const first = await stack.submit(alice, { catalogItemId: 'tiny-tool', deviceId: 'LAPTOP-ALICE' });
    expect((await stack.waitForRequest(alice, first.id, ended)).status).toBe('fulfilled');
    const second = await stack.submit(bob, { catalogItemId: 'tiny-tool', deviceId: 'LAPTOP-BOB' });
    const waiting = await stack.waitForRequest(bob, second.id, (r) => r.status === 'awaiting_task');
    const step = waiting.steps.find((s) => s.name === 'wait_for_license_seat');
    expect(step?.state).toBe('waiting');
    expect(step?.detail).toContain('No free seat');
    expect(await jobsOf(second.id)).toHaveLength(0);
    const [task] = await stack.db.select().from(t.tasks).where(eq(t.tasks.requestId, second.id));
    expect(task).toMatchObject({ groupId: 'service-desk', state: 'open' });
    await stack.temporal.workflow.getHandle(second.id).cancel();
    const cancelled = await stack.waitForRequest(bob, second.id, ended);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.steps.find((s) => s.name === 'wait_for_license_seat')?.state).toBe('failed');
    const [after] = await stack.db.select().from(t.tasks).where(eq(t.tasks.id, task!.id));
    expect(after?.state).toBe('cancelled');
  });

  it('retries a script that fails twice and records three attempts', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'flaky-tool', deviceId: 'LAPTOP-ALICE' });
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    const deploys = done.steps.filter((s) => s.name === 'deploy');
    expect(deploys.map((d) => [d.attempt, d.state])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'completed'],
    ]);
    expect(deploys[0]?.detail).toContain('exited with code 17');
    expect((await jobsOnceReported(submitted.id)).map((j) => [j.attempt, j.state, j.exitCode])).toEqual([
      [1, 'failed', 17],
      [2, 'failed', 17],
      [3, 'succeeded', 0],
    ]);
  });

  it('compensates a script that always fails once nobody decides in time: seat released, change failed, service-desk task', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'broken-tool', deviceId: 'LAPTOP-ALICE' });
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('failed');
    expect(done.outcome?.reason).toBe('deployment_failed');
    // The decision timer fired: the wait for an operator is on record as a person's step.
    expect(done.steps.find((s) => s.name === 'operator_decision')).toMatchObject({
      kind: 'human',
      state: 'failed',
      detail: 'Nobody retried the deployment or gave up within 2s.',
    });
    expect(done.outcome?.message).toContain('service desk');
    const [seat] = await stack.db
      .select()
      .from(t.licenseAssignments)
      .where(eq(t.licenseAssignments.requestId, submitted.id));
    expect(seat?.state).toBe('released');
    const [change] = await stack.db.select().from(t.changes).where(eq(t.changes.requestId, submitted.id));
    expect(change?.state).toBe('closed_failed');
    const [task] = await stack.db.select().from(t.tasks).where(eq(t.tasks.requestId, submitted.id));
    expect(task).toMatchObject({ groupId: 'service-desk', state: 'open' });
    expect(task?.id).toBe(done.outcome?.taskId);
    expect((await jobsOnceReported(submitted.id)).map((j) => j.state)).toEqual([
      'failed',
      'failed',
      'failed',
    ]);
    // The service desk (a fulfiller with a task on it) may now see the request.
    const dave = await stack.login('dave');
    expect((await stack.call('GET', `/api/requests/${submitted.id}`, { token: dave })).status).toBe(200);
  });

  it('gives one request and one workflow for the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'double-click-1' };
    const body = { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE', justification: 'again' };
    const [a, b] = await Promise.all([
      stack.submit(alice, body, headers),
      stack.submit(alice, body, headers),
    ]);
    expect(b.id).toBe(a.id);
    const again = await stack.submit(alice, body, headers);
    expect(again.id).toBe(a.id);
    let runs = 0;
    for await (const _ of stack.temporal.workflow.list({ query: `WorkflowId = '${a.id}'` })) runs++;
    expect(runs).toBe(1);
    expect(await stack.db.select().from(t.requests).where(eq(t.requests.id, a.id))).toHaveLength(1);
    // Visio is already on the laptop with a seat from the first request: this one says so and takes nothing.
    const done = await stack.waitForRequest(alice, a.id, ended);
    expect(done.status).toBe('rejected');
    expect(done.outcome?.message).toContain('already holds a Microsoft Visio seat for LAPTOP-ALICE');
    expect(
      await stack.db.select().from(t.licenseAssignments).where(eq(t.licenseAssignments.requestId, a.id)),
    ).toEqual([]);
  });

  it('loses nothing when the worker dies mid-flow', async () => {
    await stack.stopAgent();
    const submitted = await stack.submit(alice, { catalogItemId: 'notes-tool', deviceId: 'LAPTOP-ALICE' });
    // The workflow records the waiting deploy step and then whom it waits on, in two writes.
    const waiting = await stack.waitForRequest(
      alice,
      submitted.id,
      (r) => r.steps.some((s) => s.name === 'deploy' && s.state === 'waiting') && Boolean(r.waitingOn),
    );
    expect(waiting.waitingOn?.who).toEqual(['device:LAPTOP-ALICE']);
    await stack.stopWorker('SIGKILL');
    // With the worker gone, the device connects and reports; the signal waits in Temporal.
    stack.startAgent('LAPTOP-ALICE');
    const reported = await eventually(
      () => jobsOf(submitted.id),
      (js) => js[0]?.state === 'succeeded',
      45_000,
    );
    expect(reported[0]?.state).toBe('succeeded');
    stack.startWorker();
    const done = await stack.waitForRequest(alice, submitted.id, ended, 90_000);
    expect(done.status).toBe('fulfilled');
    expect(await jobsOf(submitted.id)).toHaveLength(1);
    expect(
      existsSync(join(stack.dataDir, 'devices', 'LAPTOP-ALICE', 'root', 'tools', 'notes-tool', 'VERSION')),
    ).toBe(true);
    // A worker restart on a loaded machine takes its time; the waits above have their own deadlines.
  }, 180_000);
});
