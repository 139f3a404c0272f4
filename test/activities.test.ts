import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditHash } from '../audit/log.js';
import { createActivities, type Activities } from '../activities/index.js';
import { closeDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import type { RequestSnapshot } from '../domain/request.js';
import { repoRoot } from '../runtime/config.js';
import { join } from 'node:path';
import { verifyApprovalLink } from '../runtime/approval-links.js';
import { openTestDatabase } from './helpers/test-database.js';

let db: DB;
let acts: Activities;
const env = new MockActivityEnvironment();
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const run = <F extends (...args: any[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>) =>
  env.run(fn, ...args) as ReturnType<F>;

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

beforeEach(async () => {
  db = await openTestDatabase();
  await seed(db);
  acts = createActivities({
    db,
    packagesDirs: [join(repoRoot, 'packages')],
    publicUrl: 'http://portal.test',
    linkSecret: 'test-link-secret',
    linkTtlMs: 60_000,
  });
});

afterEach(async () => {
  await closeDatabase(db);
});

describe('checkEntitlement', () => {
  it('admits an engineer asking for Visio on her own laptop', async () => {
    const e = await run(acts.checkEntitlement, {
      requestId: 'REQ-1',
      catalogItemId: 'visio',
      beneficiary: 'alice',
      deviceId: 'LAPTOP-ALICE',
    });
    expect(e).toMatchObject({
      itemName: 'Microsoft Visio',
      changeModel: 'standard',
      packageId: 'visio',
      licensePoolId: 'visio',
    });
    expect(e.basis).toContain('engineer');
  });

  it('refuses a role that is not entitled, non-retryably, with a readable reason', async () => {
    const f = await failureOf(
      run(acts.checkEntitlement, {
        requestId: 'REQ-2',
        catalogItemId: 'visio',
        beneficiary: 'carol',
        deviceId: 'LAPTOP-CAROL',
      }),
    );
    expect(f.type).toBe('NotEntitled');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('Finance analyst');
    expect(f.message).toContain('engineer, designer');
  });

  it("refuses someone else's device", async () => {
    const f = await failureOf(
      run(acts.checkEntitlement, {
        requestId: 'REQ-3',
        catalogItemId: 'visio',
        beneficiary: 'alice',
        deviceId: 'LAPTOP-BOB',
      }),
    );
    expect(f.type).toBe('NotEntitled');
    expect(f.message).toContain('LAPTOP-BOB is not registered to alice');
  });
});

describe('license seats', () => {
  const seat = (requestId: string, deviceId = 'LAPTOP-ALICE') => ({
    requestId,
    poolId: 'visio',
    userId: 'alice',
    deviceId,
  });

  it('reserves one seat per request, idempotently', async () => {
    const a = await run(acts.reserveLicenseSeat, seat('REQ-A'));
    const again = await run(acts.reserveLicenseSeat, seat('REQ-A'));
    expect(again.seatId).toBe(a.seatId);
    expect(again.inUse).toBe(1);
    expect(await db.select().from(t.licenseAssignments)).toHaveLength(1);
  });

  it('refuses when the pool is empty, and a released seat can be taken again', async () => {
    // One seat per device: alice's three requests are for three devices.
    for (const id of ['REQ-A', 'REQ-B', 'REQ-C']) await run(acts.reserveLicenseSeat, seat(id, `PC-${id}`));
    const f = await failureOf(run(acts.reserveLicenseSeat, seat('REQ-D', 'PC-REQ-D')));
    expect(f.type).toBe('LicensePoolEmpty');
    expect(f.message).toContain('3 of 3');
    await run(acts.releaseLicenseSeat, { requestId: 'REQ-B', poolId: 'visio' });
    await run(acts.releaseLicenseSeat, { requestId: 'REQ-B', poolId: 'visio' });
    const d = await run(acts.reserveLicenseSeat, seat('REQ-D', 'PC-REQ-D'));
    expect(d.inUse).toBe(3);
  });

  it('hands out each seat once when reservations run at the same time', async () => {
    // Started together, the reservations interleave at every await: only the transaction keeps
    // the count and the insert together.
    const ids = ['REQ-A', 'REQ-B', 'REQ-C', 'REQ-D', 'REQ-E', 'REQ-F'];
    const results = await Promise.allSettled(
      ids.map((id) => run(acts.reserveLicenseSeat, seat(id, `PC-${id}`))),
    );
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ApplicationFailure] : []));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(refused.map((f) => f.type)).toEqual(['LicensePoolEmpty', 'LicensePoolEmpty', 'LicensePoolEmpty']);
    const held = (
      await db.select().from(t.licenseAssignments).where(eq(t.licenseAssignments.poolId, 'visio'))
    ).filter((a) => a.state === 'reserved');
    expect(held).toHaveLength(3);
  });

  it('takes no second seat for the same software on the same device', async () => {
    await run(acts.reserveLicenseSeat, seat('REQ-A'));
    const f = await failureOf(run(acts.reserveLicenseSeat, seat('REQ-B')));
    expect(f.type).toBe('SeatAlreadyHeld');
    expect(f.message).toContain('request REQ-A');
    expect(await db.select().from(t.licenseAssignments)).toHaveLength(1);
    // Released (the first request was cancelled): the device may have it through another request.
    await run(acts.releaseLicenseSeat, { requestId: 'REQ-A', poolId: 'visio' });
    expect((await run(acts.reserveLicenseSeat, seat('REQ-B'))).inUse).toBe(1);
  });

  it('assigns only a reserved seat', async () => {
    await run(acts.reserveLicenseSeat, seat('REQ-A'));
    await run(acts.assignLicenseSeat, { requestId: 'REQ-A', poolId: 'visio' });
    const [row] = await db
      .select()
      .from(t.licenseAssignments)
      .where(eq(t.licenseAssignments.requestId, 'REQ-A'))
      .limit(1);
    expect(row?.state).toBe('assigned');
    const f = await failureOf(run(acts.assignLicenseSeat, { requestId: 'REQ-Z', poolId: 'visio' }));
    expect(f.type).toBe('SeatNotReserved');
  });
});

describe('changes, deployment, CMDB', () => {
  it('records one change per request and keeps the first closing', async () => {
    const input = {
      requestId: 'REQ-AB12',
      catalogItemId: 'visio',
      model: 'standard' as const,
      authorizedBy: 'pre-authorized Standard Change',
      summary: 'Install Visio',
    };
    const a = await run(acts.recordChange, input);
    const b = await run(acts.recordChange, input);
    expect(a.changeId).toBe('CHG-AB12');
    expect(b.changeId).toBe(a.changeId);
    await run(acts.closeChange, { requestId: 'REQ-AB12', state: 'closed_successful', note: 'ok' });
    await run(acts.closeChange, { requestId: 'REQ-AB12', state: 'closed_failed', note: 'late' });
    const [row] = await db.select().from(t.changes).limit(1);
    expect(row).toMatchObject({ state: 'closed_successful', preAuthorized: true });
  });

  it('queues a job once per attempt and refuses an unknown package', async () => {
    const job = {
      requestId: 'REQ-AB12',
      deviceId: 'LAPTOP-ALICE',
      packageId: 'visio',
      action: 'install' as const,
      attempt: 1,
    };
    const a = await run(acts.queueDeployment, job);
    await run(acts.queueDeployment, job);
    expect(a.jobId).toBe('JOB-AB12-I1');
    expect(a.packageVersion).toMatch(/^\d+\./);
    expect(await db.select().from(t.deploymentJobs)).toHaveLength(1);
    expect(await run(acts.expireDeployment, { jobId: a.jobId })).toEqual({ expired: true });
    expect(await run(acts.expireDeployment, { jobId: a.jobId })).toEqual({ expired: false });
    const f = await failureOf(run(acts.queueDeployment, { ...job, packageId: 'no-such-package' }));
    expect(f.type).toBe('PackageNotFound');
  });

  it('readies a round after a reset by hand: the seat taken again, the change reopened, attempts numbered on', async () => {
    const round = { requestId: 'REQ-AB12', deviceId: 'LAPTOP-ALICE', userId: 'alice', poolId: 'visio' };
    await run(acts.reserveLicenseSeat, { ...round, poolId: 'visio' });
    expect(await run(acts.prepareDeployment, round)).toEqual({ firstAttempt: 1 });
    const job = {
      requestId: 'REQ-AB12',
      deviceId: 'LAPTOP-ALICE',
      packageId: 'visio',
      action: 'install' as const,
    };
    await run(acts.queueDeployment, { ...job, attempt: 1 });
    await run(acts.queueDeployment, { ...job, attempt: 2 });
    await run(acts.recordChange, {
      requestId: 'REQ-AB12',
      catalogItemId: 'visio',
      model: 'standard',
      authorizedBy: 'pre-authorized Standard Change',
      summary: 'Install Visio',
    });
    // The failed round's compensation, then an operator's `temporal workflow reset`. The audit
    // trail does not steer the round: whatever it says, the round only numbers its attempts.
    await run(acts.releaseLicenseSeat, { requestId: 'REQ-AB12', poolId: 'visio' });
    await run(acts.closeChange, { requestId: 'REQ-AB12', state: 'closed_failed', note: 'failed' });
    await run(acts.recordAudit, {
      key: 'REQ-AB12:request.failed',
      actor: 'reqflow',
      action: 'request.failed',
      requestId: 'REQ-AB12',
      details: {},
    });
    const retry = await run(acts.prepareDeployment, round);
    expect(retry).toEqual({ firstAttempt: 3 });
    expect(await run(acts.prepareDeployment, round)).toEqual(retry);
    expect((await db.select().from(t.licenseAssignments).limit(1))[0]?.state).toBe('reserved');
    expect((await db.select().from(t.changes).limit(1))[0]).toMatchObject({
      state: 'implementing',
      closedAt: null,
    });
  });

  it('refuses a retry round when the seat went to somebody else meanwhile', async () => {
    await db.update(t.licensePools).set({ totalSeats: 1 }).where(eq(t.licensePools.id, 'visio'));
    const round = { requestId: 'REQ-AB12', deviceId: 'LAPTOP-ALICE', userId: 'alice', poolId: 'visio' };
    await run(acts.reserveLicenseSeat, round);
    await run(acts.releaseLicenseSeat, { requestId: 'REQ-AB12', poolId: 'visio' });
    await run(acts.reserveLicenseSeat, {
      ...round,
      requestId: 'REQ-CD34',
      userId: 'bob',
      deviceId: 'LAPTOP-BOB',
    });
    const f = await failureOf(run(acts.prepareDeployment, round));
    expect(f.type).toBe('LicensePoolEmpty');
  });

  it('links installed software to the device once', async () => {
    const input = {
      requestId: 'REQ-1',
      deviceId: 'LAPTOP-ALICE',
      packageId: 'visio',
      product: 'Microsoft Visio',
      version: '16',
    };
    await run(acts.recordSoftwareInstall, input);
    await run(acts.recordSoftwareInstall, input);
    const rels = await db.select().from(t.cmdbRelationships);
    expect(rels).toHaveLength(1);
    expect(rels[0]).toMatchObject({
      sourceCiId: 'SW-LAPTOP-ALICE-visio',
      targetCiId: 'LAPTOP-ALICE',
      type: 'installed_on',
    });
  });
});

describe('notifications, tasks, audit, projection', () => {
  it('queues a notification once per key with absolute links', async () => {
    const n = {
      key: 'REQ-1:fulfilled',
      recipient: 'alice',
      subject: 's',
      body: 'b',
      links: { survey: '/surveys/REQ-1', launch: 'https://x' },
    };
    await run(acts.notify, n);
    await run(acts.notify, n);
    const rows = await db.select().from(t.notifications);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.links).toEqual({ survey: 'http://portal.test/surveys/REQ-1', launch: 'https://x' });
  });

  it('opens one task per key', async () => {
    const task = {
      key: 'REQ-1:deployment',
      requestId: 'REQ-1',
      groupId: 'service-desk',
      title: 't',
      description: 'd',
    };
    const a = await run(acts.openManualTask, task);
    const b = await run(acts.openManualTask, task);
    expect(b.taskId).toBe(a.taskId);
    await run(acts.cancelManualTask, { taskId: a.taskId });
    expect((await db.select().from(t.tasks).limit(1))[0]?.state).toBe('cancelled');
  });

  it('chains audit entries by hash and appends a retried entry once', async () => {
    await run(acts.recordAudit, { key: 'k1', actor: 'reqflow', action: 'seat.reserved', requestId: 'REQ-1' });
    await run(acts.recordAudit, { key: 'k1', actor: 'reqflow', action: 'seat.reserved', requestId: 'REQ-1' });
    await run(acts.recordAudit, {
      key: 'k2',
      actor: 'reqflow',
      action: 'software.installed',
      details: { ci: 'SW-1' },
    });
    // The seed's directory changes come first in the log; these two follow them.
    const all = await db.select().from(t.auditLog).orderBy(t.auditLog.seq);
    const rows = all.slice(-2);
    expect(rows.map((r) => r.key)).toEqual(['k1', 'k2']);
    expect(all[0]?.prevHash).toBe(GENESIS_HASH);
    all.forEach((r, i) => expect(r.prevHash).toBe(i === 0 ? GENESIS_HASH : all[i - 1]?.hash));
    for (const r of all) expect(auditHash(r)).toBe(r.hash);
  });

  it('projects a snapshot and ignores an older version', async () => {
    const base: RequestSnapshot = {
      id: 'REQ-P1',
      type: 'standard_service',
      catalogItemId: 'visio',
      requester: 'alice',
      beneficiary: 'alice',
      status: 'fulfilling',
      steps: [],
      waitingOn: null,
      approvals: [],
      outcome: null,
      version: 5,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:05.000Z',
      fulfilledAt: null,
    };
    await run(acts.syncRequest, { snapshot: base, deviceId: 'LAPTOP-ALICE' });
    await run(acts.syncRequest, { snapshot: { ...base, status: 'checking_entitlement', version: 2 } });
    expect((await db.select().from(t.requests).limit(1))[0]).toMatchObject({
      status: 'fulfilling',
      version: 5,
      deviceId: 'LAPTOP-ALICE',
    });
    await run(acts.syncRequest, { snapshot: { ...base, status: 'fulfilled', version: 6 } });
    expect((await db.select().from(t.requests).limit(1))[0]?.status).toBe('fulfilled');
    // An operator's reset starts a new run from an earlier, lower version: its writes land.
    await run(acts.syncRequest, { snapshot: { ...base, status: 'failed', version: 9 }, runId: 'run-1' });
    await run(acts.syncRequest, { snapshot: { ...base, status: 'fulfilling', version: 4 }, runId: 'run-2' });
    await run(acts.syncRequest, { snapshot: { ...base, status: 'approved', version: 3 }, runId: 'run-2' });
    expect((await db.select().from(t.requests).limit(1))[0]).toMatchObject({
      status: 'fulfilling',
      version: 4,
      runId: 'run-2',
    });
  });
});

describe('approvals and access', () => {
  const base = {
    requestId: 'REQ-AP1',
    requester: 'carol',
    beneficiary: 'carol',
    catalogItemId: 'financial-reporting',
    level: 1,
  };

  it("routes to the beneficiary's manager", async () => {
    const r = await run(acts.resolveApprovers, { ...base, policy: { kind: 'manager' } });
    expect(r).toMatchObject({ approvers: ['erin'], required: 1, notes: [] });
  });

  it('routes around an inactive manager to the next one up, and says so', async () => {
    await db.update(t.users).set({ active: false }).where(eq(t.users.id, 'bob'));
    const r = await run(acts.resolveApprovers, {
      ...base,
      requester: 'alice',
      beneficiary: 'alice',
      policy: { kind: 'manager' },
    });
    expect(r.approvers).toEqual(['erin']);
    expect(r.notes.join(' ')).toContain('bob is inactive');
  });

  it('never routes a request to its requester, even as the manager', async () => {
    const r = await run(acts.resolveApprovers, {
      ...base,
      requester: 'bob',
      beneficiary: 'alice',
      policy: { kind: 'manager' },
    });
    expect(r.approvers).toEqual(['erin']);
    expect(r.notes.join(' ')).toContain('bob requested this');
  });

  it('falls back to the operators when nobody is eligible', async () => {
    const r = await run(acts.resolveApprovers, {
      ...base,
      requester: 'erin',
      beneficiary: 'erin',
      policy: { kind: 'manager' },
    });
    expect(r.approvers).toEqual(['olga']);
    expect(r.notes.join(' ')).toContain('routed to the operators');
  });

  it('resolves a group with its quorum, leaving out the requester', async () => {
    const all = await run(acts.resolveApprovers, {
      ...base,
      policy: { kind: 'group', groupId: 'procurement', quorum: 'all' },
    });
    expect(all).toMatchObject({ approvers: ['dave'], required: 1 });
    const owner = await run(acts.resolveApprovers, { ...base, policy: { kind: 'owner' } });
    expect(owner.approvers).toEqual(['erin']);
  });

  it('signs approve/deny links for one approver and one request', async () => {
    await run(acts.notifyApprovers, {
      requestId: 'REQ-AP1',
      level: 1,
      approvers: ['erin'],
      kind: 'request',
      subject: 's',
      body: 'b',
    });
    const [note] = await db
      .select()
      .from(t.notifications)
      .where(eq(t.notifications.recipientId, 'erin'))
      .limit(1);
    const token = note!.links.approve!.split('/approvals/links/')[1]!;
    const check = verifyApprovalLink('test-link-secret', token);
    expect(check).toMatchObject({
      ok: true,
      claims: { requestId: 'REQ-AP1', approver: 'erin', decision: 'approve' },
    });
    expect(verifyApprovalLink('another-secret', token)).toEqual({ ok: false, reason: 'forged' });
  });

  it('grants a group membership once, and a second grant is no error', async () => {
    const input = {
      requestId: 'REQ-AP1',
      groupId: 'FIN-REPORTING-READERS',
      userId: 'carol',
      approvalAuditSeq: 1,
    };
    expect(await run(acts.grantGroupMembership, input)).toEqual({ added: true });
    expect(await run(acts.grantGroupMembership, input)).toEqual({ added: false });
    expect(await db.select().from(t.securityGroupMembers)).toHaveLength(1);
  });
});
