import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDeploymentJobs } from '../deployments/jobs.js';
import { recordSubmittedRequest } from '../requests/index.js';
import { repoRoot } from '../runtime/config.js';
import { seededDatabaseFile } from './helpers/seeded-file.js';

// The deployment jobs aggregate on a real database (a SQLite file, or PostgreSQL) with the
// demo catalog's real Visio package: the only writer of deployment_jobs (queued by activities, claimed and reported
// through the agent routes).

const file = seededDatabaseFile('deployment-jobs');
const jobs = () => createDeploymentJobs({ db: file.db, packagesDirs: [join(repoRoot, 'packages')] });

const queued = (attempt: number) => ({
  id: `JOB-DJ-I${attempt}`,
  requestId: 'REQ-DJ',
  deviceId: 'LAPTOP-ALICE',
  packageId: 'visio',
  action: 'install' as const,
  attempt,
  queuedAt: `2026-12-01T10:00:0${attempt}.000Z`,
  traceParent: null,
});

describe('the deployment jobs aggregate', () => {
  it('queues once per id, hands a job to its device once per lease, and records its result', async () => {
    await recordSubmittedRequest(file.db, {
      id: 'REQ-DJ',
      type: 'standard_service',
      catalogItemId: 'visio',
      requesterId: 'alice',
      beneficiaryId: 'alice',
      deviceId: 'LAPTOP-ALICE',
      fingerprint: 'fp-REQ-DJ',
    });
    expect(await jobs().lastInstallAttempt('REQ-DJ')).toBe(0);
    await jobs().queue(queued(1));
    // A retried activity queues the same id again: nothing changes.
    await jobs().queue({ ...queued(1), queuedAt: '2026-12-01T11:00:00.000Z' });
    expect(await jobs().find('JOB-DJ-I1')).toMatchObject({ state: 'queued', queuedAt: queued(1).queuedAt });
    expect(await jobs().lastInstallAttempt('REQ-DJ')).toBe(1);

    const at = Date.parse('2026-12-01T10:01:00.000Z');
    const claimed = await jobs().claim('LAPTOP-ALICE', at);
    expect(claimed.map((j) => [j.id, j.package.id])).toEqual([['JOB-DJ-I1', 'visio']]);
    expect(await jobs().find('JOB-DJ-I1')).toMatchObject({ state: 'running' });
    // Another poll within the lease gets nothing; another device never does.
    expect(await jobs().claim('LAPTOP-ALICE', at + 1000)).toEqual([]);
    expect(await jobs().claim('LAPTOP-BOB', at + 10 * 60 * 60 * 1000)).toEqual([]);
    // An agent that died mid-job: after the lease the job is handed out again.
    expect((await jobs().claim('LAPTOP-ALICE', at + 10 * 60 * 60 * 1000)).map((j) => j.id)).toEqual([
      'JOB-DJ-I1',
    ]);

    await jobs().recordResult('JOB-DJ-I1', {
      state: 'succeeded',
      exitCode: 0,
      outcome: 'succeeded',
      outputTail: 'installed',
      finishedAt: '2026-12-01T10:02:00.000Z',
    });
    expect(await jobs().find('JOB-DJ-I1')).toMatchObject({ state: 'succeeded', exitCode: 0 });
    // A finished job neither expires nor is handed out again.
    expect(await jobs().expire('JOB-DJ-I1', '2026-12-01T10:03:00.000Z')).toBe(false);
    expect(await jobs().claim('LAPTOP-ALICE', at + 20 * 60 * 60 * 1000)).toEqual([]);
  });

  it('expires a job that has not finished, so a late agent cannot start it', async () => {
    await jobs().queue(queued(2));
    expect(await jobs().expire('JOB-DJ-I2', '2026-12-01T10:05:00.000Z')).toBe(true);
    expect(await jobs().find('JOB-DJ-I2')).toMatchObject({ state: 'expired' });
    expect(await jobs().claim('LAPTOP-ALICE', Date.parse('2026-12-02T00:00:00.000Z'))).toEqual([]);
    expect(await jobs().lastInstallAttempt('REQ-DJ')).toBe(2);
  });
});
