import { and, asc, eq, inArray, max, sql } from 'drizzle-orm';
import { databaseDialect, execute, forUpdateSkipLocked, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { JobAction } from '../domain/status.js';
import { DEVICE_JOBS_CHANNEL } from '../runtime/job-doorbell.js';
import { loadPackage, type DeploymentPackage } from '../runtime/packages.js';
import { packageFolderOf } from '../service-catalog/items.js';

/*
 * The deployment jobs aggregate: what a device's agent is to run, and what it reported.
 * This module alone writes `deployment_jobs`; the deployment activities queue and expire
 * jobs, the agent routes claim them and record results. Every query is awaited, so the
 * same code runs on SQLite and PostgreSQL.
 */

export type DeploymentJobRow = typeof t.deploymentJobs.$inferSelect;

export interface QueuedJob {
  id: string;
  requestId: string;
  deviceId: string;
  packageId: string;
  action: JobAction;
  attempt: number;
  queuedAt: string;
  /** W3C traceparent of the span that queued it, when tracing is on. */
  traceParent: string | null;
}

export interface ClaimedJob {
  id: string;
  requestId: string;
  action: JobAction;
  attempt: number;
  package: DeploymentPackage;
  traceparent?: string;
}

export interface JobResult {
  state: 'succeeded' | 'failed';
  /** Null when no script's exit code applies: the job could not run, or its script was killed. */
  exitCode: number | null;
  outcome: string;
  outputTail: string;
  finishedAt: string;
  startedAt?: string;
}

export function createDeploymentJobs({ db, packagesDirs }: { db: DB; packagesDirs: readonly string[] }) {
  return {
    async find(id: string): Promise<DeploymentJobRow | undefined> {
      const [job] = await db.select().from(t.deploymentJobs).where(eq(t.deploymentJobs.id, id)).limit(1);
      return job;
    },

    /** The highest install attempt of a request so far (0 before the first). */
    async lastInstallAttempt(requestId: string): Promise<number> {
      const [last] = await db
        .select({ n: max(t.deploymentJobs.attempt) })
        .from(t.deploymentJobs)
        .where(and(eq(t.deploymentJobs.requestId, requestId), eq(t.deploymentJobs.action, 'install')));
      return last?.n ?? 0;
    },

    /**
     * Queues a job; one with the same id already queued stays as it is (a retried activity).
     * On PostgreSQL the same transaction announces it on DEVICE_JOBS_CHANNEL, which wakes the
     * device's held poll on whichever API node holds it (runtime/job-doorbell.ts); on SQLite
     * the worker rings the file doorbell after this returns.
     */
    async queue(job: QueuedJob): Promise<void> {
      await transaction(db, async (tx) => {
        await tx
          .insert(t.deploymentJobs)
          .values({ ...job, state: 'queued' })
          .onConflictDoNothing();
        if (databaseDialect(tx) === 'postgres')
          await execute(tx, sql`select pg_notify(${DEVICE_JOBS_CHANNEL}, ${job.deviceId})`);
      });
    },

    /** A job not yet finished may no longer start; false when it had finished (or never existed). */
    async expire(id: string, at: string): Promise<boolean> {
      const expired = await db
        .update(t.deploymentJobs)
        .set({ state: 'expired', finishedAt: at })
        .where(and(eq(t.deploymentJobs.id, id), inArray(t.deploymentJobs.state, ['queued', 'running'])))
        .returning({ id: t.deploymentJobs.id });
      return expired.length > 0;
    },

    /**
     * Hands out the device's queued jobs, and jobs whose previous delivery was never
     * reported, marking them running, in one transaction. Two polls of one device (an agent
     * that reconnected to another API node while its old poll lingers) must never both take
     * a job. SQLite runs one writing transaction at a time, so its read and updates cannot
     * interleave with another claim. On PostgreSQL the read locks the rows it returns
     * (`FOR UPDATE SKIP LOCKED`): a concurrent claim skips them instead of waiting, and the
     * lock, not the update's condition, is what keeps a job from being handed out twice.
     */
    async claim(deviceId: string, nowMs: number): Promise<ClaimedJob[]> {
      return transaction(db, async (tx) => {
        const query = tx
          .select()
          .from(t.deploymentJobs)
          .where(
            and(
              eq(t.deploymentJobs.deviceId, deviceId),
              inArray(t.deploymentJobs.state, ['queued', 'running']),
            ),
          )
          .orderBy(asc(t.deploymentJobs.queuedAt));
        const candidates = await (databaseDialect(tx) === 'postgres' ? forUpdateSkipLocked(query) : query);
        const claimed: ClaimedJob[] = [];
        for (const job of candidates) {
          const pkg = loadPackage(packagesDirs, job.packageId, await packageFolderOf(tx, job.packageId));
          // A running job is handed out again only after it could have run all three
          // scripts to their limits: the agent died mid-job. `detect` makes that safe.
          const leaseMs = (3 * pkg.timeoutSeconds + 60) * 1000;
          if (job.state === 'running' && job.startedAt && Date.parse(job.startedAt) + leaseMs > nowMs)
            continue;
          await tx
            .update(t.deploymentJobs)
            .set({ state: 'running', startedAt: new Date(nowMs).toISOString() })
            .where(eq(t.deploymentJobs.id, job.id));
          claimed.push({
            id: job.id,
            requestId: job.requestId,
            action: job.action,
            attempt: job.attempt,
            package: pkg,
            ...(job.traceParent ? { traceparent: job.traceParent } : {}),
          });
        }
        return claimed;
      });
    },

    /** What the agent reported for a job. */
    async recordResult(id: string, result: JobResult): Promise<void> {
      await db
        .update(t.deploymentJobs)
        .set({
          state: result.state,
          exitCode: result.exitCode,
          outcome: result.outcome,
          outputTail: result.outputTail,
          finishedAt: result.finishedAt,
          ...(result.startedAt ? { startedAt: result.startedAt } : {}),
        })
        .where(eq(t.deploymentJobs.id, id));
    },
  };
}

export type DeploymentJobs = ReturnType<typeof createDeploymentJobs>;
