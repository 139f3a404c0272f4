/**
 * Many laptops' agents in one process: each device long-polls the API with its own token and
 * runs its jobs' real package scripts in its own install root, through the agent's own client
 * and job runner. What it leaves out is the agent's journal (crash recovery), which a benchmark
 * without crashes never reads.
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiUnavailableError, createAgentClient } from '../agent/client.js';
import { runJob } from '../agent/run-job.js';
import type { BenchPerson } from './fixture.js';

/** The agent's own long-poll wait (agent/main.ts). */
const WAIT_SECONDS = 25;

export interface AgentPool {
  /** Jobs run and reported, and the failures seen (a broken harness shows here). */
  stats: { jobs: number; failures: string[] };
  stop(): Promise<void>;
}

export function startAgentPool(apiUrl: string, root: string, devices: BenchPerson[]): AgentPool {
  const stop = new AbortController();
  // Every device's poll listens to this one signal: hundreds of listeners are the design.
  setMaxListeners(0, stop.signal);
  const stats = { jobs: 0, failures: [] as string[] };
  const serve = async (d: BenchPerson) => {
    const client = createAgentClient({ api: apiUrl, token: d.deviceToken });
    const installRoot = join(root, d.deviceId);
    mkdirSync(installRoot, { recursive: true });
    while (!stop.signal.aborted) {
      try {
        const polled = await client.pollJobs(WAIT_SECONDS, stop.signal);
        for (const item of polled) {
          if (!('job' in item)) {
            stats.failures.push(`${d.deviceId}: unreadable job (${item.unreadable.reason})`);
            continue;
          }
          const result = await runJob(item.job, { root: installRoot, deviceId: d.deviceId });
          const answer = await client.reportResult(item.job.id, result);
          stats.jobs++;
          if (answer.kind !== 'delivered' || result.outcome !== 'succeeded') {
            stats.failures.push(`${d.deviceId}: job ${item.job.id} ${result.outcome}, report ${answer.kind}`);
          }
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        if (!(err instanceof ApiUnavailableError)) {
          stats.failures.push(`${d.deviceId}: ${String(err)}`);
          return;
        }
        await sleep(500);
      }
    }
  };
  const running = devices.map(serve);
  return {
    stats,
    async stop() {
      stop.abort();
      await Promise.allSettled(running);
    },
  };
}
