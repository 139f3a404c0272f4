import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray } from 'drizzle-orm';
import * as t from '../db/schema.js';
import type { JobAction } from '../domain/status.js';
import { loadPackage, PackageNotFoundError } from '../runtime/packages.js';
import { clock, type ActivityDeps } from './deps.js';
import { requestSuffix } from './ids.js';

export interface DeploymentInput {
  requestId: string;
  deviceId: string;
  packageId: string;
  action: JobAction;
  attempt: number;
}

export function deploymentJobId(input: Pick<DeploymentInput, 'requestId' | 'action' | 'attempt'>): string {
  return `JOB-${requestSuffix(input.requestId)}-${input.action === 'install' ? 'I' : 'U'}${input.attempt}`;
}

export function createDeploymentActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /**
     * Queues a job for the device's agent, which picks it up on its next poll.
     * Keyed by (request, action, attempt): a retried activity queues nothing new.
     */
    async queueDeployment(input: DeploymentInput): Promise<{ jobId: string; packageVersion: string }> {
      let version: string;
      try {
        version = loadPackage(deps.packagesDirs, input.packageId).version;
      } catch (err) {
        if (err instanceof PackageNotFoundError) {
          throw ApplicationFailure.create({
            type: 'PackageNotFound',
            message: err.message,
            nonRetryable: true,
          });
        }
        throw err;
      }
      const jobId = deploymentJobId(input);
      db.insert(t.deploymentJobs)
        .values({
          id: jobId,
          requestId: input.requestId,
          deviceId: input.deviceId,
          packageId: input.packageId,
          action: input.action,
          attempt: input.attempt,
          state: 'queued',
          queuedAt: now(),
        })
        .onConflictDoNothing()
        .run();
      return { jobId, packageVersion: version };
    },

    /** The device never reported: the job may no longer start, so a late agent cannot install after compensation. */
    async expireDeployment(input: { jobId: string }): Promise<{ expired: boolean }> {
      const res = db
        .update(t.deploymentJobs)
        .set({ state: 'expired', finishedAt: now() })
        .where(
          and(eq(t.deploymentJobs.id, input.jobId), inArray(t.deploymentJobs.state, ['queued', 'running'])),
        )
        .run();
      return { expired: res.changes > 0 };
    },
  };
}
