import { SpanStatusCode } from '@opentelemetry/api';
import { Backoff, sleep } from './backoff.js';
import {
  ApiUnavailableError,
  AuthRejectedError,
  createAgentClient,
  type AgentClient,
  type PolledJob,
} from './client.js';
import { AgentConfigError, loadAgentConfig, USAGE, type AgentConfig } from './config.js';
import { enrollAgent } from './enroll.js';
import { DEVICE_TOKEN_REFUSED } from './exit-codes.js';
import { groupAlive, JobJournal, scriptsStillRunning, type JournalState } from './journal.js';
import { packageScriptsDir, runJob, type JobResult } from './run-job.js';
import { startTracing } from '../runtime/tracing.js';
import { inSpanOf } from '../runtime/trace-context.js';

/**
 * Seconds the API may hold a poll open. Long enough that an idle device costs one
 * request every half minute, short enough to stay under common proxy idle timeouts.
 */
const WAIT_SECONDS = 25;
/** Once asked to stop, how long a finished job's result may keep trying to reach the API before we give up on it. */
const SHUTDOWN_REPORT_GRACE_MS = 10_000;

interface Agent {
  config: AgentConfig;
  client: AgentClient;
  /** The job in hand, on disk: what the next agent finishes if this one is killed. */
  journal: JobJournal;
  log: (line: string) => void;
  /** First SIGINT/SIGTERM: finish and report the current job, then exit 0. */
  stop: AbortSignal;
  /** Second signal: kill the current script and exit at once. */
  force: AbortSignal;
  stoppingSince: () => number | undefined;
}

/** `undelivered`: the job ran but its result did not reach the API before the agent stopped. */
type Handled = 'ok' | 'undelivered' | 'fatal' | 'forced';

async function run(): Promise<number> {
  let config: AgentConfig | 'help';
  try {
    const [command, ...rest] = process.argv.slice(2);
    config =
      command === 'enroll'
        ? await enrollAgent(rest, process.env)
        : await loadAgentConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof AgentConfigError)) throw err;
    console.error(`reqflow agent: ${err.message}`);
    return 1;
  }
  if (config === 'help') {
    console.log(USAGE);
    return 0;
  }

  const { deviceId } = config;
  const log = (line: string) => console.log(`[${deviceId}] ${line}`);
  const stop = new AbortController();
  const force = new AbortController();
  let stoppingSince: number | undefined;
  const onSignal = (signal: string) => {
    if (!stop.signal.aborted) {
      stoppingSince = Date.now();
      log(`${signal}: stopping after the current job (send it again to kill the job and quit)`);
      stop.abort();
    } else if (!force.signal.aborted) {
      log(`${signal} again: killing the current job and quitting`);
      force.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Started by `npm start`: its IPC channel closes when the stack dies, even by kill -9.
  const onDisconnect = () => onSignal('the stack is gone');
  process.once('disconnect', onDisconnect);
  // The channel is only a liveness wire; it must not keep a stopped agent from exiting.
  process.channel?.unref();
  if (process.send && !process.connected) onDisconnect();
  const tracing = await startTracing('reqflow-agent');
  if (tracing) log('tracing: exporting spans over OTLP');
  try {
    return await serve({
      config,
      client: createAgentClient({ api: config.api, token: config.token }),
      journal: new JobJournal(config.root),
      log,
      stop: stop.signal,
      force: force.signal,
      stoppingSince: () => stoppingSince,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('disconnect', onDisconnect);
    await tracing?.shutdown();
  }
}

/** Polls for jobs and runs them one at a time, in the order the API gave them, until asked to stop. */
async function serve(agent: Agent): Promise<number> {
  const { config, client, log } = agent;
  log(`agent started: polling ${config.api} for jobs; install root ${config.root}`);
  const left = await agent.journal.load();
  if (left.jobs.length > 0) {
    const handled = await resume(agent, left);
    if (handled === 'fatal') return DEVICE_TOKEN_REFUSED;
    if (handled === 'forced') return 1;
  }
  const backoff = new Backoff();
  let outageSince: number | undefined;

  while (!agent.stop.aborted) {
    let polled: PolledJob[];
    try {
      polled = await client.pollJobs(WAIT_SECONDS, agent.stop);
    } catch (err) {
      if (agent.stop.aborted) break;
      if (err instanceof AuthRejectedError) {
        log(`${err.message}; the token may be revoked or belong to another device. Exiting.`);
        return DEVICE_TOKEN_REFUSED;
      }
      if (!(err instanceof ApiUnavailableError)) throw err;
      // An API that is starting or restarting is normal; say so once, not on every retry.
      if (outageSince === undefined) {
        outageSince = Date.now();
        log(`API unavailable (${err.message}); retrying until it answers`);
      }
      await sleep(backoff.next(), agent.stop);
      continue;
    }
    if (outageSince !== undefined) {
      log(`API reachable again after ${seconds(Date.now() - outageSince)}`);
      outageSince = undefined;
    }
    backoff.reset();
    // Handed to this device: the API offers them to nobody else until their lease runs out.
    const received = polled.flatMap((p) => ('job' in p ? [p.job] : []));
    if (received.length > 0) await agent.journal.received(received);

    for (const [index, item] of polled.entries()) {
      if (agent.stop.aborted) {
        log(
          `leaving ${polled.length - index} received job(s) unstarted; the agent runs them at its next start`,
        );
        break;
      }
      const handled = await handle(agent, item);
      if (handled === 'fatal') return DEVICE_TOKEN_REFUSED;
      if (handled === 'forced') return 1;
    }
  }
  log('stopped');
  return 0;
}

async function handle(agent: Agent, item: PolledJob): Promise<Handled> {
  const { config, log } = agent;
  if ('unreadable' in item) {
    const { id, reason } = item.unreadable;
    if (id === undefined) {
      log(`ignoring a job without an id: ${reason}`);
      return 'ok';
    }
    log(`job ${id}: cannot run it (${reason}); reporting it failed`);
    const now = new Date().toISOString();
    const result: JobResult = {
      exitCode: null,
      outcome: 'failed',
      output: `agent: cannot run this job: ${reason}\n`,
      startedAt: now,
      finishedAt: now,
    };
    return deliver(agent, id, `job ${id}`, result);
  }

  const { job } = item;
  const label = labelOf(job);
  log(`${label}: started (request ${job.requestId}, attempt ${job.attempt})`);
  // In the request's trace when the API sent its context and this agent traces; a no-op span otherwise.
  const attributes = {
    'reqflow.device_id': config.deviceId,
    'reqflow.request_id': job.requestId,
    'reqflow.job_id': job.id,
    'reqflow.package': `${job.package.id} ${job.package.version}`,
  };
  const result = await inSpanOf(
    job.traceparent,
    'reqflow-agent',
    `agent ${job.action}`,
    attributes,
    async (span) => {
      const ran = await runJob(job, {
        root: config.root,
        deviceId: config.deviceId,
        signal: agent.force,
        onScript: (pgid) => {
          agent.journal
            .scriptStarted(job.id, pgid)
            .catch((err: unknown) => log(`${label}: journal: ${String(err)}`));
        },
      });
      span.setAttribute('reqflow.outcome', ran.outcome);
      if (ran.outcome === 'failed' || ran.outcome === 'timed_out')
        span.setStatus({ code: SpanStatusCode.ERROR, message: summary(ran) });
      return ran;
    },
  );
  if (agent.force.aborted) {
    log(`${label}: killed by forced shutdown; the agent runs it again at its next start`);
    return 'forced';
  }
  log(`${label}: ${summary(result)}`);
  const handled = await deliver(agent, job.id, label, result);
  // A result the API has (or refused for good) closes the job; one it never got does not:
  // the next agent runs the job again (detect finds the install) and reports that.
  if (handled === 'ok') await agent.journal.done(job.id);
  return handled;
}

const labelOf = (job: { id: string; action: string; package: { id: string; version: string } }) =>
  `job ${job.id} ${job.action} ${job.package.id} ${job.package.version}`;

/**
 * Finishes the jobs a previous agent on this device received and did not report: it was
 * stopped by force, killed, or stopped before their results reached the API. Its script may
 * still run (a kill -9 of the agent does not reach the script's own process group): wait for
 * it, within its time limit, so that two installs never run at once; then run each job again
 * from detect and report it.
 */
async function resume(agent: Agent, { jobs, script }: JournalState): Promise<Handled> {
  const { config, log } = agent;
  for (const job of jobs) {
    if (agent.stop.aborted) return 'ok'; // still journaled: the next start runs them
    const label = labelOf(job);
    log(`${label}: left unfinished by the previous agent; finishing it (request ${job.requestId})`);
    const left = scriptsStillRunning(packageScriptsDir(config.root, job.package));
    if (left.length > 0) {
      // The journal records a script's start just after it; without a record, now is later
      // still. Either way the wait is at least as long as the script may run.
      const since = script?.jobId === job.id ? script.startedAt : Date.now();
      const until = since + job.package.timeoutSeconds * 1000;
      log(`${label}: its script (process group ${left.join(', ')}) still runs; waiting for it`);
      while (left.some(groupAlive) && Date.now() < until && !agent.force.aborted) {
        await sleep(200, agent.force);
      }
      for (const pgid of left.filter(groupAlive)) {
        log(`${label}: the script outlived its time limit or the agent is stopping; killing it`);
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    const handled = await handle(agent, { job });
    if (handled === 'fatal' || handled === 'forced') return handled;
  }
  return 'ok';
}

/**
 * Delivers a result, retrying while the API is down: the job ran, so the result is
 * worth more than a fresh poll. Gives up only on a definite answer or at shutdown.
 */
async function deliver(agent: Agent, jobId: string, label: string, result: JobResult): Promise<Handled> {
  const { client, log } = agent;
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await client.reportResult(jobId, result, agent.force);
      if (answer.kind === 'delivered') {
        if (attempt > 1) log(`${label}: result delivered on attempt ${attempt}`);
      } else if (answer.kind === 'conflict') {
        log(`${label}: result not taken, the job expired or was already reported (${answer.detail})`);
      } else {
        log(`${label}: result rejected with HTTP ${answer.status} (${answer.detail}); dropping it`);
      }
      return 'ok';
    } catch (err) {
      if (agent.force.aborted) return 'forced';
      if (err instanceof AuthRejectedError) {
        log(`${label}: ${err.message} while reporting; the result is lost. Exiting.`);
        return 'fatal';
      }
      if (!(err instanceof ApiUnavailableError)) throw err;
      const stoppingSince = agent.stoppingSince();
      const graceLeft =
        stoppingSince === undefined ? Infinity : stoppingSince + SHUTDOWN_REPORT_GRACE_MS - Date.now();
      if (graceLeft <= 0) {
        log(
          `${label}: giving up on the result at shutdown (${err.message}); the agent reports it at its next start`,
        );
        return 'undelivered';
      }
      if (attempt === 1) log(`${label}: could not deliver the result (${err.message}); retrying`);
      // A stop request wakes the wait early so the remaining grace is spent trying, not sleeping.
      await sleep(Math.min(backoff.next(), graceLeft), agent.stop.aborted ? agent.force : agent.stop);
    }
  }
}

function summary(result: JobResult): string {
  const took = seconds(Date.parse(result.finishedAt) - Date.parse(result.startedAt));
  const exit = result.exitCode === null ? 'no exit code' : `exit ${result.exitCode}`;
  const line = `${result.outcome} (${exit}) in ${took}`;
  if (result.outcome === 'succeeded' || result.outcome === 'already_installed') return line;
  const reason = lastMessage(result.output);
  return reason ? `${line}: ${reason}` : line;
}

/** The last line a script or the agent printed, skipping the transcript's own markers. */
function lastMessage(output: string): string | undefined {
  const lines = output.split('\n').filter((l) => l.trim() !== '' && !/^\$ \w+\.sh$/.test(l));
  const messages = lines.filter((l) => !/^\[.*\]$/.test(l));
  return (messages.at(-1) ?? lines.at(-1))?.slice(0, 200);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

run()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    console.error('reqflow agent: unexpected failure:', err);
    process.exitCode = 1;
  });
