import { ApplicationFailure } from '@temporalio/activity';
import { reopenFailedChange } from '../cmdb/changes.js';
import { createDeploymentJobs } from '../deployments/jobs.js';
import { packageFolderOf } from '../service-catalog/items.js';
import type { JobAction } from '../domain/status.js';
import { loadPackage, PackageNotFoundError } from '../runtime/packages.js';
import { currentTraceparent } from '../runtime/trace-context.js';
import { clock, type ActivityDeps } from './deps.js';
import { requestSuffix } from './ids.js';
import { createLicenseActivities } from './license.js';

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

export interface DeploymentRound {
  /** Attempt numbers go on after earlier rounds, so every job id stays unique. */
  firstAttempt: number;
  /**
   * Only in results recorded when a retry reset the workflow and this activity read the
   * audit log: when the round before failed, and who retried. Retries are now a decision
   * inside the workflow (workflows/deployment-decision.ts); replays still read these.
   */
  failedAt?: string;
  retry?: { by: string; at: string; reason: string };
}

export function createDeploymentActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  const seats = createLicenseActivities(deps);
  const jobs = createDeploymentJobs({ db, packagesDirs: deps.packagesDirs });
  return {
    /**
     * Readies a round of deployment attempts. On the first run this only numbers the
     * attempts. When an operator resets a failed request by hand (`temporal workflow
     * reset`, README), the new run starts here again, after the first round's
     * compensation released the seat and closed the change as failed: the seat is taken
     * again (LicensePoolEmpty when none is free), the change is implementing again, and
     * the attempts go on from the last one. Idempotent: a retried call finds the seat it
     * holds, the change open and no job queued yet.
     */
    async prepareDeployment(input: {
      requestId: string;
      deviceId: string;
      userId: string;
      poolId?: string;
    }): Promise<DeploymentRound> {
      if (input.poolId) {
        await seats.reserveLicenseSeat({
          requestId: input.requestId,
          poolId: input.poolId,
          userId: input.userId,
          deviceId: input.deviceId,
        });
      }
      await reopenFailedChange(db, input.requestId);
      return { firstAttempt: (await jobs.lastInstallAttempt(input.requestId)) + 1 };
    },

    /**
     * Queues a job for the device's agent, which picks it up on its next poll.
     * Keyed by (request, action, attempt): a retried activity queues nothing new.
     */
    async queueDeployment(input: DeploymentInput): Promise<{ jobId: string; packageVersion: string }> {
      let version: string;
      try {
        version = loadPackage(
          deps.packagesDirs,
          input.packageId,
          await packageFolderOf(db, input.packageId),
        ).version;
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
      await jobs.queue({
        id: jobId,
        requestId: input.requestId,
        deviceId: input.deviceId,
        packageId: input.packageId,
        action: input.action,
        attempt: input.attempt,
        queuedAt: now(),
        // This activity's span, when tracing is on: the agent's run of the job joins the trace.
        traceParent: currentTraceparent() ?? null,
      });
      deps.jobQueued?.(input.deviceId);
      return { jobId, packageVersion: version };
    },

    /** The device never reported: the job may no longer start, so a late agent cannot install after compensation. */
    async expireDeployment(input: { jobId: string }): Promise<{ expired: boolean }> {
      return { expired: await jobs.expire(input.jobId, now()) };
    },
  };
}
