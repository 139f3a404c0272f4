import { and, asc, eq } from 'drizzle-orm';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { recordHistory } from './helpers/histories.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// An operator retries a failed deployment (POST /api/requests/:id/retry): the real
// worker, API and agent, a package that fails until the device is fixed, and a real
// workflow reset on the dev server.

let stack: TestStack;
let alice: string;
let olga: string;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), {
    DEPLOY_MAX_ATTEMPTS: '2',
    DEVICE_WAIT_TIMEOUT: '5m',
  });
  stack.startAgent('LAPTOP-ALICE');
  [alice, olga] = await Promise.all([stack.login('alice'), stack.login('olga')]);
});

afterAll(async () => {
  await stack?.stop();
});

const jobsOf = (requestId: string) =>
  stack.db
    .select()
    .from(t.deploymentJobs)
    .where(eq(t.deploymentJobs.requestId, requestId))
    .orderBy(asc(t.deploymentJobs.attempt))
    .all();

describe('retrying a failed deployment', () => {
  it('resets the workflow to a new round that takes the seat again and installs once the device is fixed', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'blocked-tool', deviceId: 'LAPTOP-ALICE' });
    const failed = await stack.waitForRequest(alice, submitted.id, ended);
    expect(failed.status).toBe('failed');
    expect(failed.outcome?.reason).toBe('deployment_failed');
    const escalation = failed.outcome?.taskId;
    expect(escalation).toBeDefined();
    const seatOf = () =>
      stack.db
        .select()
        .from(t.licenseAssignments)
        .where(eq(t.licenseAssignments.requestId, submitted.id))
        .get();
    const changeOf = () =>
      stack.db.select().from(t.changes).where(eq(t.changes.requestId, submitted.id)).get();
    expect(seatOf()?.state).toBe('released');
    expect(changeOf()?.state).toBe('closed_failed');
    const before = await stack.temporal.workflow.getHandle(submitted.id).describe();
    const failedAudit = () =>
      stack.db
        .select()
        .from(t.auditLog)
        .where(and(eq(t.auditLog.requestId, submitted.id), eq(t.auditLog.action, 'request.failed')))
        .get();

    // Only operators retry, and they say why.
    const url = `/api/requests/${submitted.id}/retry`;
    const byAlice = await stack.call('POST', url, { token: alice, body: { reason: 'please' } });
    expect(byAlice.status).toBe(403);
    const noReason = await stack.call('POST', url, { token: olga, body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.headers.get('content-type')).toContain('application/problem+json');
    await stack.waitForRequest(alice, submitted.id, () =>
      jobsOf(submitted.id).every((j) => j.state === 'failed'),
    );
    expect(jobsOf(submitted.id)).toHaveLength(2);

    // The operator frees the disk on the device, then retries.
    writeFileSync(join(stack.dataDir, 'devices/LAPTOP-ALICE/root/.blocked-tool-fixed'), 'fixed\n');
    const retried = await stack.call('POST', url, {
      token: olga,
      body: { reason: 'Freed disk space on LAPTOP-ALICE' },
    });
    expect(retried.status).toBe(202);
    // A second retry finds the new run in flight (or already done): nothing to retry.
    const again = await stack.call('POST', url, { token: olga, body: { reason: 'twice' } });
    expect(again.status).toBe(409);

    const done = await stack.waitForRequest(alice, submitted.id, (r) => r.status === 'fulfilled');
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'retried-after-reset');
    const retryStep = done.steps.find((s) => s.name === 'operator_retry');
    // The step spans the time the request sat failed, so metrics count it as waiting on a person.
    expect(retryStep?.startedAt).toBe(failedAudit()?.at);
    expect(retryStep?.detail).toBe(
      'olga retried the deployment: Freed disk space on LAPTOP-ALICE. Attempts go on from 3.',
    );
    // Attempt numbers go on, so the failed round's jobs and reports stay apart from the new one.
    // (The API signals the workflow before it records the job's result: wait for the row.)
    await stack.waitForRequest(alice, submitted.id, () => jobsOf(submitted.id).at(-1)?.state === 'succeeded');
    expect(jobsOf(submitted.id).map((j) => [j.attempt, j.state, j.exitCode])).toEqual([
      [1, 'failed', 28],
      [2, 'failed', 28],
      [3, 'succeeded', 0],
    ]);
    expect(seatOf()?.state).toBe('assigned');
    expect(changeOf()?.state).toBe('closed_successful');
    const task = stack.db.select().from(t.tasks).where(eq(t.tasks.id, escalation!)).get();
    expect(task).toMatchObject({ state: 'cancelled', completedBy: 'olga' });

    // A new run of the same workflow id, and the trail says who retried before the grant.
    const after = await stack.temporal.workflow.getHandle(submitted.id).describe();
    expect(after.runId).not.toBe(before.runId);
    const trail = stack.db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.requestId, submitted.id))
      .orderBy(asc(t.auditLog.seq))
      .all();
    expect(trail.map((e) => [e.action, e.actor])).toEqual([
      ['request.approved', 'reqflow'],
      ['request.failed', 'reqflow'],
      ['request.retried', 'olga'],
      ['software.installed', 'reqflow'],
    ]);
    expect(trail[2]?.details).toMatchObject({
      reason: 'Freed disk space on LAPTOP-ALICE',
      previousRunId: before.runId,
      escalationTaskId: escalation,
    });
    const verify = await stack.call('GET', '/api/audit/verify', { token: olga });
    expect(verify.body).toMatchObject({ ok: true });

    // Nothing left to retry once fulfilled.
    const fulfilled = await stack.call('POST', url, { token: olga, body: { reason: 'again' } });
    expect(fulfilled.status).toBe(409);
  });

  it('refuses requests that did not fail in their deployment', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'notes-tool', deviceId: 'LAPTOP-ALICE' });
    await stack.waitForRequest(alice, submitted.id, ended);
    const res = await stack.call('POST', `/api/requests/${submitted.id}/retry`, {
      token: olga,
      body: { reason: 'why not' },
    });
    expect(res.status).toBe(409);
    expect((res.body as { detail: string }).detail).toContain('only a request whose deployment failed');
    const missing = await stack.call('POST', '/api/requests/REQ-NOPE0000/retry', {
      token: olga,
      body: { reason: 'x' },
    });
    expect(missing.status).toBe(404);
  });
});
