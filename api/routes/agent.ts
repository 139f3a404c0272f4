import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { createDeploymentJobs } from '../../deployments/jobs.js';
import { isEnrolled, recordDeviceSeen } from '../../devices/index.js';
import type { DeploymentReport } from '../../domain/request.js';
import type { Config } from '../../runtime/config.js';
import { jobDoorbellDir, listenJobDoorbell, watchJobDoorbell } from '../../runtime/job-doorbell.js';
import { deploymentResultSignal } from '../workflow-contract.js';
import { conflict, HttpProblem, notFound } from '../errors.js';
import { AgentJob, JobResultBody, JobsQuery } from '../schemas/agent.js';
import { deviceAuthProblems, problemRef } from '../schemas/common.js';

// A held long poll wakes at once when a queued job rings the device's job doorbell
// (runtime/job-doorbell.ts: a file beside SQLite, LISTEN/NOTIFY on PostgreSQL); without a
// ring it re-reads the jobs table this often, a cheap indexed read, so a job still starts
// within a second.
const POLL_INTERVAL_MS = 1000;
const OUTPUT_TAIL = 4000;
// Room for `output` at its longest written the longest way JSON allows (an escaped surrogate
// pair, `\uXXXX\uXXXX`, is 12 bytes per character), and then some: a body whose output is
// only a little too long is answered 400 with the field named, not 413.
const RESULT_BODY_LIMIT = 12 * 65536 + 65536;

interface AgentDeps {
  db: DB;
  temporal: Client;
  config: Config;
}

const agentRoutes: FastifyPluginAsyncTypebox<AgentDeps> = async (app, { db, temporal, config }) => {
  // Closing wakes every held poll at once, and a poll that sees it claims nothing: a job
  // handed out now could reach an agent that is stopping too, and wait out a whole lease.
  const closing = new AbortController();
  // One long poll per device: a newer poll (an agent that restarted while its old connection
  // lingers, or a second agent with the same token) supersedes the older, which answers at
  // once with no jobs. Without it, every open poll of a device holds a socket and a timer.
  const polls = new Map<string, symbol>();
  const doorbell = config.databaseUrl
    ? listenJobDoorbell(config.databaseUrl, { log: (line) => app.log.warn(line) })
    : watchJobDoorbell(jobDoorbellDir(config.databaseFile));
  const deploymentJobs = createDeploymentJobs({ db, packagesDirs: config.packagesDirs });
  app.addHook('preClose', async () => {
    closing.abort();
  });
  app.addHook('onClose', async () => {
    doorbell.close();
  });
  app.addHook('preHandler', app.authenticateDevice);

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['agent'],
        summary: 'Long poll: deployment jobs for the calling device',
        description:
          'Answers as soon as a job is queued for this device, or after waitSeconds with an empty list.',
        security: [{ deviceToken: [] }],
        querystring: JobsQuery,
        response: { 200: Type.Object({ jobs: Type.Array(AgentJob) }), ...deviceAuthProblems },
      },
    },
    async (request, reply) => {
      const wait = Math.min(request.query.waitSeconds ?? 0, config.agentPollMaxSeconds);
      const deadline = Date.now() + wait * 1000;
      let gone = false;
      reply.raw.once('close', () => {
        gone = true;
      });
      await recordDeviceSeen(db, request.deviceId);
      const poll = Symbol(request.id);
      polls.set(request.deviceId, poll);
      try {
        for (;;) {
          if (polls.get(request.deviceId) !== poll || gone || closing.signal.aborted) return { jobs: [] };
          const jobs = await deploymentJobs.claim(request.deviceId, Date.now());
          if (jobs.length > 0 || Date.now() >= deadline) return { jobs };
          await doorbell.wait(
            request.deviceId,
            Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())),
            closing.signal,
          );
          // An operator may unenroll the device while its poll waits: tell the agent now, not after the wait.
          if (!(await isEnrolled(db, request.deviceId))) {
            throw new HttpProblem(
              401,
              'Unauthorized',
              `Device ${request.deviceId} was unenrolled by an operator.`,
            );
          }
        }
      } finally {
        if (polls.get(request.deviceId) === poll) polls.delete(request.deviceId);
      }
    },
  );

  app.post(
    '/jobs/:id/result',
    {
      // `output` may hold 65536 characters: the API's 64 KiB limit would refuse a result the
      // schema allows (413 instead of a 400 that names the field).
      bodyLimit: RESULT_BODY_LIMIT,
      schema: {
        tags: ['agent'],
        summary: "Report a job's exit code and output tail",
        security: [{ deviceToken: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        body: JobResultBody,
        response: {
          200: Type.Object({ id: Type.String(), state: Type.String() }),
          ...deviceAuthProblems,
          404: problemRef,
          409: problemRef,
        },
      },
    },
    async (request) => {
      await recordDeviceSeen(db, request.deviceId);
      const job = await deploymentJobs.find(request.params.id);
      // Another device's job is indistinguishable from a missing one.
      if (!job || job.deviceId !== request.deviceId) throw notFound(`Job ${request.params.id} not found.`);
      const body = request.body;
      const succeeded = body.outcome === 'succeeded' || body.outcome === 'already_installed';
      const state = succeeded ? 'succeeded' : 'failed';
      if (job.state === 'succeeded' || job.state === 'failed') {
        if (job.state === state && job.exitCode === body.exitCode) return { id: job.id, state: job.state };
        throw conflict(`Job ${job.id} was already reported as ${job.state}.`);
      }
      if (job.state === 'expired') {
        throw conflict(
          `Job ${job.id} expired before this result arrived; the request no longer waits for it.`,
        );
      }
      const finishedAt = body.finishedAt ?? new Date().toISOString();
      const outputTail = body.output.slice(-OUTPUT_TAIL);
      const report: DeploymentReport = {
        jobId: job.id,
        attempt: job.attempt,
        succeeded,
        exitCode: body.exitCode,
        outcome: body.outcome,
        outputTail,
        finishedAt,
      };
      // Signal first, then record: if recording fails the agent retries, and the
      // workflow ignores a second report for the same attempt.
      try {
        await temporal.workflow.getHandle(job.requestId).signal(deploymentResultSignal, report);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        request.log.warn(
          { jobId: job.id, requestId: job.requestId },
          'result for a request whose workflow is closed',
        );
      }
      await deploymentJobs.recordResult(job.id, {
        state,
        exitCode: body.exitCode,
        outcome: body.outcome,
        outputTail,
        finishedAt,
        ...(body.startedAt ? { startedAt: body.startedAt } : {}),
      });
      return { id: job.id, state };
    },
  );
};

export default agentRoutes;
