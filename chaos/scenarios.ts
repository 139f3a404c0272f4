/**
 * The faults: kill -9 of a worker, of the API, of the device agent mid-install and of the
 * Temporal dev server, each while a workload is in flight, each bounded by a deadline. A
 * scenario reports what it did, how long each recovery took and what the checks found.
 */
import { eq } from 'drizzle-orm';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { isFinalStatus } from '../domain/status.js';
import { check, type Findings } from './checks.js';
import { ChaosClient } from './client.js';
import { apiReady, workerPolls, type Env } from './env.js';
import { CHAOS_DEVICE, INSTALL_LEDGER } from './fixtures.js';
import {
  Driver,
  plan,
  readRequests,
  submitAll,
  type Allocator,
  type Kind,
  type Planned,
} from './workload.js';

export interface Settings {
  requests: number;
  /** Kills per scenario (the embedded supervisor gives up at five crashes of one process a minute). */
  kills: number;
  deadlineMs: number;
  rng: () => number;
  log: (line: string) => void;
}

export interface Result {
  name: string;
  where: string;
  planned: number;
  faults: number;
  /** Seconds from each kill until the killed part served again. */
  recoveries: number[];
  recoveredWhen: string;
  retries: { connection: number; status5xx: number };
  /** Calls answered by each API node. */
  answeredBy: Record<string, number>;
  actions: number;
  /** Seconds from the last fault until every request was final. */
  drainSeconds: number | undefined;
  seconds: number;
  findings: Findings;
  notes: string[];
}

/**
 * A fault injector: runs while `inFlight()`, calls `faulted()` at each fault it causes and
 * returns the recovery time of each.
 */
type Inject = (inFlight: () => boolean, faulted: () => void) => Promise<number[]>;

const between = (rng: () => number, lo: number, hi: number) => lo + rng() * (hi - lo);

async function until(ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await sleep(100);
  }
  return false;
}

/** Waits `ms` unless the workload is no longer in flight; false then. */
async function pause(ms: number, inFlight: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!inFlight()) return false;
    await sleep(Math.min(200, end - Date.now()));
  }
  return inFlight();
}

function kill(pid: number | undefined, s: Settings, faulted: () => void, what: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 'SIGKILL');
    faulted();
    s.log(`  kill -9 ${what} (pid ${pid})`);
    return true;
  } catch {
    return false;
  }
}

/** Submits, lets the people act, injects faults, waits for every request's end, checks. */
async function runWorkload(
  env: Env,
  db: DB,
  s: Settings,
  name: string,
  planned: Planned[],
  recoveredWhen: string,
  inject: Inject,
): Promise<Result> {
  const started = Date.now();
  const deadline = started + s.deadlineMs;
  s.log(`\n== ${name} (${env.name}): ${planned.length} requests`);
  const client = new ChaosClient(env.apiUrls ?? env.apiUrl, () => deadline);
  const driver = new Driver(client, db, () => planned);
  driver.start();
  const notes: string[] = [];
  let allFinal = false;
  let lastFault = started;
  const inFlight = () => !allFinal && Date.now() < deadline;
  const faults = inject(inFlight, () => {
    lastFault = Date.now();
  });
  try {
    await submitAll(client, planned);
  } catch (err) {
    notes.push(`submitting stopped: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ids = () => planned.flatMap((p) => (p.id ? [p.id] : []));
  allFinal = await until(async () => {
    const rows = await readRequests(db, ids());
    return rows.size === planned.length && [...rows.values()].every((r) => isFinalStatus(r.status));
  }, deadline - Date.now());
  const finalAt = Date.now();
  const recoveries = await faults;
  await driver.stop();
  if (!allFinal) {
    notes.push(`not every request was final within ${s.deadlineMs / 1000} s`);
    notes.push(...driver.unexpected.map((u) => `a person's action was refused: ${u}`));
  }
  const findings = await check(db, env.dataDir, planned);
  return {
    name,
    where: env.name,
    planned: planned.length,
    faults: recoveries.length,
    recoveries,
    recoveredWhen,
    retries: client.retries,
    answeredBy: client.answeredBy,
    actions: driver.actions,
    drainSeconds: allFinal ? Math.max(0, (finalAt - lastFault) / 1000) : undefined,
    seconds: (Date.now() - started) / 1000,
    findings,
    notes,
  };
}

/** kill -9 of a worker at random moments; the supervisor (or the pool's manager) starts it again. */
export function workerKills(env: Env, db: DB, s: Settings, alloc: Allocator, label: string): Promise<Result> {
  const planned = plan(label, s.requests, alloc);
  return runWorkload(
    env,
    db,
    s,
    'kill -9 of a worker while mixed requests are in flight',
    planned,
    'a new worker polls the task queue',
    async (inFlight, faulted) => {
      const recoveries: number[] = [];
      for (let k = 0; k < s.kills; k++) {
        if (!(await pause(between(s.rng, k === 0 ? 2000 : 6000, k === 0 ? 6000 : 15_000), inFlight))) break;
        const alive = env.workers();
        const victim = alive[Math.floor(s.rng() * alive.length)];
        const killedAt = Date.now();
        if (!kill(victim, s, faulted, 'a worker')) continue;
        // Recovered: a worker other than the victim polls (the restarted one, or in a pool a new one).
        const back = await until(async () => {
          const now = env.workers().filter((pid) => pid !== victim);
          const fresh = now.filter((pid) => !alive.includes(pid));
          for (const pid of fresh.length > 0 ? fresh : []) if (await workerPolls(env, pid)) return true;
          return false;
        }, 120_000);
        if (back) recoveries.push((Date.now() - killedAt) / 1000);
        else s.log('  the worker did not come back within 120 s');
      }
      return recoveries;
    },
  );
}

/** kill -9 of the API while clients submit with Idempotency-Key and retry on connection errors. */
export function apiKills(env: Env, db: DB, s: Settings, alloc: Allocator): Promise<Result> {
  const planned = plan('api', Math.max(10, Math.ceil(s.requests / 4)), alloc);
  return runWorkload(
    env,
    db,
    s,
    'kill -9 of the API while clients submit and retry',
    planned,
    'GET /ready answers 200',
    async (inFlight, faulted) => {
      const recoveries: number[] = [];
      for (let k = 0; k < Math.min(3, s.kills); k++) {
        // While the clients submit: the first within a second or two of their start.
        if (!(await pause(between(s.rng, k === 0 ? 300 : 1000, k === 0 ? 2000 : 4000), inFlight))) break;
        const killedAt = Date.now();
        if (!kill(env.pid('api'), s, faulted, 'the API')) continue;
        await until(async () => !(await apiReady(env)), 5000);
        if (await until(() => apiReady(env), 120_000)) recoveries.push((Date.now() - killedAt) / 1000);
        else s.log('  the API did not come back within 120 s');
      }
      return recoveries;
    },
  );
}

/** kill -9 of the agent while an install script runs; the next agent finishes the job, detect prevents a second install. */
export function agentKills(env: Env, db: DB, s: Settings, alloc: Allocator): Promise<Result> {
  const installs = Math.max(3, Math.ceil(s.requests / 40));
  const planned = plan('agent', installs, alloc, ['software'] as Kind[]);
  const ledger = join(env.dataDir, 'devices', CHAOS_DEVICE, 'root', INSTALL_LEDGER);
  const ours = new Set(planned.map((p) => p.tool));
  /** The job of an install that began and has not completed, if one runs now. */
  const running = (): string | undefined => {
    if (!existsSync(ledger)) return undefined;
    const open = new Map<string, string>();
    for (const line of readFileSync(ledger, 'utf8').split('\n')) {
      const m = /^(begin|installed) (\S+) (\S+)$/.exec(line);
      if (!m || !ours.has(m[2])) continue;
      if (m[1] === 'begin') open.set(m[2]!, m[3]!);
      else open.delete(m[2]!);
    }
    return [...open.values()][0];
  };
  return runWorkload(
    env,
    db,
    s,
    'kill -9 of the device agent in the middle of an install script',
    planned,
    'the interrupted job is reported',
    async (inFlight, faulted) => {
      const recoveries: number[] = [];
      for (let k = 0; k < Math.min(3, s.kills, installs); k++) {
        let job: string | undefined;
        if (!(await until(() => !inFlight() || (job = running()) !== undefined, 60_000)) || !job) break;
        // Somewhere in the middle of the script's sleep.
        await sleep(between(s.rng, 100, 600));
        const killedAt = Date.now();
        if (!kill(env.pid('agent'), s, faulted, `the agent during job ${job}`)) continue;
        const reported = await until(async () => {
          const [row] = await db
            .select()
            .from(t.deploymentJobs)
            .where(eq(t.deploymentJobs.id, job!))
            .limit(1);
          return row?.state === 'succeeded' || row?.state === 'failed';
        }, 120_000);
        if (reported) recoveries.push((Date.now() - killedAt) / 1000);
        else s.log(`  job ${job} was not reported within 120 s`);
      }
      return recoveries;
    },
  );
}

/** kill -9 of the Temporal dev server; the supervisor starts it again on the same SQLite file. */
export function temporalKills(env: Env, db: DB, s: Settings, alloc: Allocator): Promise<Result> {
  const planned = plan('temporal', Math.max(10, Math.ceil(s.requests / 2)), alloc);
  return runWorkload(
    env,
    db,
    s,
    'kill -9 of the Temporal dev server, restarted on the same file',
    planned,
    'the API is ready and the worker polls again',
    async (inFlight, faulted) => {
      const recoveries: number[] = [];
      for (let k = 0; k < Math.min(2, s.kills); k++) {
        // The first while the clients still submit (they retry the 503s), the next soon after.
        if (!(await pause(between(s.rng, k === 0 ? 300 : 1000, k === 0 ? 1500 : 4000), inFlight))) break;
        const before = env.pid('temporal');
        const killedAt = Date.now();
        if (!kill(before, s, faulted, 'the Temporal dev server')) continue;
        const back = await until(async () => {
          const pid = env.pid('temporal');
          if (!pid || pid === before) return false;
          const worker = env.workers()[0];
          return (await apiReady(env)) && worker !== undefined && (await workerPolls(env, worker));
        }, 120_000);
        if (back) recoveries.push((Date.now() - killedAt) / 1000);
        else s.log('  the dev server did not come back within 120 s');
      }
      return recoveries;
    },
  );
}

/**
 * Several workers and API nodes (chaos/env.ts startNodes): once the workload is under way,
 * kill -9 of one worker and one API node, neither started again; the survivors carry on.
 * Recovered: every request still reaches its end (the survivors took over).
 */
export function nodeKills(env: Env, db: DB, s: Settings, alloc: Allocator): Promise<Result> {
  const planned = plan('nodes', s.requests, alloc);
  return runWorkload(
    env,
    db,
    s,
    'kill -9 of one worker and one API node, neither restarted',
    planned,
    'the surviving worker and API node finish every request',
    async (inFlight, faulted) => {
      // Mid-run: once a quarter of the requests have ended, so that work of every kind is in flight.
      const ended = async () => {
        const rows = await readRequests(
          db,
          planned.flatMap((p) => (p.id ? [p.id] : [])),
        );
        return [...rows.values()].filter((r) => isFinalStatus(r.status)).length;
      };
      if (!(await until(async () => !inFlight() || (await ended()) >= planned.length / 4, s.deadlineMs)))
        return [];
      if (!inFlight()) return [];
      kill(env.pid('worker'), s, faulted, 'worker-1');
      kill(env.pid('api'), s, faulted, 'API node 1');
      return [];
    },
  );
}
