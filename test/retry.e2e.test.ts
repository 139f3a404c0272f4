import { and, asc, eq } from 'drizzle-orm';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { eventually } from './helpers/eventually.js';
import { recordHistory } from './helpers/histories.js';
import { awaitingDecision, ended, startStack, type TestStack } from './helpers/stack.js';

// An operator decides on a failed deployment (POST /api/requests/:id/retry or /give-up):
// the real worker, API and agent, packages that fail until the device is fixed (or always),
// and the decision sent to the waiting workflow as an update. (When nobody decides in time:
// test/e2e.test.ts.)

describe('deciding on a failed deployment', () => {
  let stack: TestStack;
  let alice: string;
  let olga: string;

  beforeAll(async () => {
    stack = await startStack(inject('temporalAddress'), {
      DEPLOY_MAX_ATTEMPTS: '2',
      DEVICE_WAIT_TIMEOUT: '5m',
      DEPLOYMENT_DECISION_TIMEOUT: '1h',
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
      .orderBy(asc(t.deploymentJobs.attempt));
  const seatOf = async (requestId: string) =>
    (
      await stack.db.select().from(t.licenseAssignments).where(eq(t.licenseAssignments.requestId, requestId))
    )[0];
  const changeOf = async (requestId: string) =>
    (await stack.db.select().from(t.changes).where(eq(t.changes.requestId, requestId)))[0];
  const trailOf = (requestId: string) =>
    stack.db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.requestId, requestId))
      .orderBy(asc(t.auditLog.seq));

  it('waits for an operator, who retries over HTTP: a new round, attempts going on, fulfilled', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'blocked-tool', deviceId: 'LAPTOP-ALICE' });
    const waiting = await stack.waitForRequest(alice, submitted.id, awaitingDecision);
    expect(waiting.waitingOn?.who).toEqual(['group:operators']);
    const decisionStep = waiting.steps.find((s) => s.name === 'operator_decision');
    expect(decisionStep).toMatchObject({ kind: 'human', state: 'waiting' });
    expect(decisionStep?.detail).toContain('failed 2 time(s)');
    expect(waiting.steps.filter((s) => s.name === 'deploy').map((s) => s.kind)).toEqual(['device', 'device']);
    // The seat and the change stay with the request while it waits.
    expect((await seatOf(submitted.id))?.state).toBe('reserved');
    expect((await changeOf(submitted.id))?.state).toBe('implementing');
    const runId = (await stack.temporal.workflow.getHandle(submitted.id).describe()).runId;

    // Only operators decide, and they say why; a refusal changes nothing.
    const url = `/api/requests/${submitted.id}/retry`;
    const byAlice = await stack.call('POST', url, { token: alice, body: { reason: 'please' } });
    expect(byAlice.status).toBe(403);
    expect(byAlice.headers.get('content-type')).toContain('application/problem+json');
    const giveUpByAlice = await stack.call('POST', `/api/requests/${submitted.id}/give-up`, {
      token: alice,
      body: { reason: 'never mind' },
    });
    expect(giveUpByAlice.status).toBe(403);
    const noReason = await stack.call('POST', url, { token: olga, body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.headers.get('content-type')).toContain('application/problem+json');
    const blank = await stack.call('POST', url, { token: olga, body: { reason: ' ' } });
    expect(blank.status).toBe(422);
    expect(blank.headers.get('content-type')).toContain('application/problem+json');
    const still = await stack.call('GET', `/api/requests/${submitted.id}`, { token: alice });
    expect(still.body).toMatchObject({ status: 'awaiting_decision' });
    expect(await jobsOf(submitted.id)).toHaveLength(2);
    expect((await trailOf(submitted.id)).map((e) => e.action)).toEqual(['request.approved']);

    // The operator frees the disk on the device, then retries.
    writeFileSync(join(stack.dataDir, 'devices/LAPTOP-ALICE/root/.blocked-tool-fixed'), 'fixed\n');
    const retried = await stack.call('POST', url, {
      token: olga,
      body: { reason: 'Freed disk space on LAPTOP-ALICE' },
    });
    expect(retried.status).toBe(202);
    // The decision is taken: a second one finds nothing to decide.
    const again = await stack.call('POST', url, { token: olga, body: { reason: 'twice' } });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');

    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('fulfilled');
    await recordHistory(stack.temporal.workflow.getHandle(submitted.id), 'retried-by-operator');
    expect(done.steps.find((s) => s.name === 'operator_decision')).toMatchObject({
      kind: 'human',
      state: 'completed',
      detail: 'olga retried the deployment: Freed disk space on LAPTOP-ALICE',
    });
    // Attempt numbers go on, so the failed round's jobs and reports stay apart from the new one.
    // (The API signals the workflow before it records the job's result: wait for the row.)
    await eventually(
      () => jobsOf(submitted.id),
      (js) => js.at(-1)?.state === 'succeeded',
      45_000,
    );
    expect((await jobsOf(submitted.id)).map((j) => [j.attempt, j.state, j.exitCode])).toEqual([
      [1, 'failed', 28],
      [2, 'failed', 28],
      [3, 'succeeded', 0],
    ]);
    expect((await seatOf(submitted.id))?.state).toBe('assigned');
    expect((await changeOf(submitted.id))?.state).toBe('closed_successful');
    // The same run went on: no reset, no new run.
    expect((await stack.temporal.workflow.getHandle(submitted.id).describe()).runId).toBe(runId);
    const trail = await trailOf(submitted.id);
    expect(trail.map((e) => [e.action, e.actor])).toEqual([
      ['request.approved', 'reqflow'],
      ['request.retried', 'olga'],
      ['software.installed', 'reqflow'],
    ]);
    expect(trail[1]?.details).toMatchObject({ reason: 'Freed disk space on LAPTOP-ALICE', firstAttempt: 3 });
    const verify = await stack.call('GET', '/api/audit/verify', { token: olga });
    expect(verify.body).toMatchObject({ ok: true });

    // Nothing left to decide once fulfilled.
    for (const action of ['retry', 'give-up']) {
      const late = await stack.call('POST', `/api/requests/${submitted.id}/${action}`, {
        token: olga,
        body: { reason: 'again' },
      });
      expect(late.status).toBe(409);
    }
  });

  it('ends the request failed with the reason when an operator gives up', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'broken-tool', deviceId: 'LAPTOP-ALICE' });
    await stack.waitForRequest(alice, submitted.id, awaitingDecision);
    const res = await stack.call('POST', `/api/requests/${submitted.id}/give-up`, {
      token: olga,
      body: { reason: 'Vendor withdrew the package' },
    });
    expect(res.status).toBe(202);
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('failed');
    expect(done.outcome).toMatchObject({ reason: 'Vendor withdrew the package' });
    expect(done.outcome?.message).toContain('olga gave up: Vendor withdrew the package');
    expect((await seatOf(submitted.id))?.state).toBe('released');
    expect((await changeOf(submitted.id))?.state).toBe('closed_failed');
    // The operator decided: nobody is asked to install it by hand.
    expect(await stack.db.select().from(t.tasks).where(eq(t.tasks.requestId, submitted.id))).toEqual([]);
    const [given] = await stack.db
      .select()
      .from(t.auditLog)
      .where(and(eq(t.auditLog.requestId, submitted.id), eq(t.auditLog.action, 'request.given_up')));
    expect(given).toMatchObject({ actor: 'olga', details: { reason: 'Vendor withdrew the package' } });
  });

  it('refuses requests that do not wait for a decision', async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'notes-tool', deviceId: 'LAPTOP-ALICE' });
    await stack.waitForRequest(alice, submitted.id, ended);
    for (const action of ['retry', 'give-up']) {
      const res = await stack.call('POST', `/api/requests/${submitted.id}/${action}`, {
        token: olga,
        body: { reason: 'why not' },
      });
      expect(res.status).toBe(409);
      expect((res.body as { detail: string }).detail).toContain('waits for an operator');
      const missing = await stack.call('POST', `/api/requests/REQ-NOPE0000/${action}`, {
        token: olga,
        body: { reason: 'x' },
      });
      expect(missing.status).toBe(404);
    }
  });
});
