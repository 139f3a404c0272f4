import { Client, Connection } from '@temporalio/client';
import { and, count, inArray, isNotNull } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { baseEnv, startEmbedded, type Env } from '../chaos/env.js';
import { closeDatabase, openDatabase } from '../db/client.js';
import * as t from '../db/schema.js';
import { readStackState, stackStateFile } from '../runtime/stack-state.js';
import { startAgentPool, type AgentPool } from './agent-pool.js';
import { BENCH_ENV } from './bench-env.js';
import { startChild, type Child } from './children.js';
import type { BenchPerson } from './fixture.js';
import { BenchClient } from './http.js';
import type { Scale } from './scale.js';

/** What every benchmark gets: the running stack, its people and the baseline's task queue. */
export interface BenchContext {
  scale: Scale;
  stack: Env;
  temporal: Client;
  api: BenchClient;
  /** The next person nobody in this run has ordered Visio for yet. */
  nextPerson(): BenchPerson;
  /** People who already ordered (for requests that do not use up a seat). */
  requesters: () => BenchPerson[];
  bareTaskQueue: string;
  /** When the run must be done (epoch ms): see Scale.runSeconds. */
  runUntil: number;
  log(line: string): void;
}

/** How long a fleet of agents may take to make its first calls on a loaded machine. */
const FLEET_CONNECT_MS = 120_000;

/** A bench run's running parts; stop() ends them in the reverse order. */
export interface BenchStack {
  ctx: BenchContext;
  agents: AgentPool;
  /** Stops the agents, the baseline's worker and the stack; `ok` false prints the stack's last output. */
  stop(ok: boolean): Promise<void>;
}

/**
 * Starts what every bench run measures on: the embedded stack on its own ports and data
 * directory, a worker for the bare baseline on the same Temporal server, and an agent per
 * provisioned laptop. What started is stopped again if a later part fails to start.
 */
export async function startBenchStack(run: {
  name: string;
  root: string;
  dataDir: string;
  catalogDir: string;
  people: BenchPerson[];
  scale: Scale;
  runUntil: number;
  log: (line: string) => void;
}): Promise<BenchStack> {
  const { name, root, dataDir, people, log } = run;
  let stack: Env | undefined;
  let bareWorker: Child | undefined;
  let agents: AgentPool | undefined;
  let connection: Connection | undefined;
  const stop = async (ok: boolean) => {
    await agents?.stop();
    await connection?.close();
    await bareWorker?.stop();
    if (stack) {
      if (!ok) log(`${name}: last output of the stack:\n${stack.tail(40)}`);
      const code = await stack.stop();
      if (code !== 0) log(`${name}: the stack exited with code ${code}`);
    }
  };
  try {
    stack = await startEmbedded(dataDir, {
      ...(await baseEnv(dataDir, join(root, 'packages'))),
      ...BENCH_ENV,
      CATALOG_DIR: run.catalogDir,
    });
    const address = readStackState(stackStateFile(dataDir))!.temporal.address;
    const bareTaskQueue = `bench-bare-${randomUUID()}`;
    bareWorker = await startChild('bench/bare/worker.ts', {
      TEMPORAL_ADDRESS: address,
      BENCH_BARE_TASK_QUEUE: bareTaskQueue,
    });
    connection = await Connection.connect({ address });
    agents = startAgentPool(stack.apiUrl, join(root, 'devices'), people);
    await fleetConnected(stack.databaseFile, people, log, name);
    let next = 0;
    const ctx: BenchContext = {
      scale: run.scale,
      stack,
      temporal: new Client({ connection }),
      api: new BenchClient(stack.apiUrl),
      nextPerson: () => {
        const p = people[next++];
        if (!p) throw new Error('the run ran out of provisioned people');
        return p;
      },
      requesters: () => people.slice(0, Math.max(1, next)),
      bareTaskQueue,
      runUntil: run.runUntil,
      log,
    };
    return { ctx, agents, stop };
  } catch (err) {
    await stop(false);
    throw err;
  }
}

/**
 * Waits until every laptop's agent has made its first call (the API notes each device's
 * latest call). A fleet of a hundred agents connecting in the same second is the bench's
 * doing, not a start's: the first request is timed after it, as on a stack whose devices are
 * already connected.
 */
async function fleetConnected(
  databaseFile: string,
  people: BenchPerson[],
  log: (line: string) => void,
  name: string,
): Promise<void> {
  const started = Date.now();
  const db = openDatabase(databaseFile, { migrate: false });
  try {
    const ids = people.map((p) => p.deviceId);
    for (;;) {
      const [row] = await db
        .select({ n: count() })
        .from(t.devices)
        .where(and(inArray(t.devices.id, ids), isNotNull(t.devices.lastSeenAt)));
      if ((row?.n ?? 0) >= ids.length) break;
      if (Date.now() - started > FLEET_CONNECT_MS)
        throw new Error(`only ${row?.n ?? 0} of ${ids.length} agents called the API in time`);
      await sleep(200);
    }
  } finally {
    await closeDatabase(db);
  }
  log(`${name}: ${people.length} agents connected in ${Date.now() - started} ms`);
}
