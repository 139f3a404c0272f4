import { sql } from 'drizzle-orm';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as DbClient from '../db/client.js';
import type * as DeploymentJobs from '../deployments/jobs.js';
import type * as Doorbell from '../runtime/job-doorbell.js';
import { postgresAvailable, seededPostgres, type SeededPostgres } from './helpers/seeded-postgres.js';

// The job doorbell across API nodes on PostgreSQL: a job queued through one node's
// connection pool wakes a poll held on another node's LISTENing connection. Each wait is
// given ten minutes before its own re-read would end it, so a wait that ends did so because
// the notification arrived (the test's deadline is far below that).
// The app's modules are imported once the cluster's URL is DATABASE_URL (helpers/seeded-postgres.ts).
const title = postgresAvailable
  ? 'job doorbell on PostgreSQL (LISTEN/NOTIFY)'
  : 'job doorbell on PostgreSQL (SKIPPED: no initdb/pg_ctl; install postgresql)';

const REREAD_MS = 10 * 60_000;
const DEADLINE_MS = 30_000;

let pg: SeededPostgres | undefined;
let url: string;
let client: typeof DbClient;
let jobsModule: typeof DeploymentJobs;
let doorbells: typeof Doorbell;
let nodeA: DbClient.DB;
const open: Doorbell.JobDoorbell[] = [];
const never = new AbortController();
let sequence = 0;

/** A poll of a device that nothing is queued for; `woke()` says whether a ring ended it. */
function heldWithoutJobs(doorbell: Doorbell.JobDoorbell, deviceId: string) {
  const stop = new AbortController();
  let woke = false;
  void doorbell.wait(deviceId, REREAD_MS, stop.signal).then(() => {
    woke = !stop.signal.aborted;
  });
  return {
    woke: () => {
      stop.abort();
      return woke;
    },
  };
}

/** Resolves with what happened first: the wait ended, or the deadline passed. */
function arrival(wait: Promise<void>): Promise<'woken' | 'deadline passed'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline passed'>((resolve) => {
    timer = setTimeout(() => resolve('deadline passed'), DEADLINE_MS);
  });
  return Promise.race([wait.then(() => 'woken' as const), deadline]).finally(() => clearTimeout(timer));
}

async function queueFor(deviceId: string): Promise<void> {
  const jobs = jobsModule.createDeploymentJobs({
    db: nodeA,
    packagesDirs: [join(import.meta.dirname, '..', 'packages')],
  });
  await jobs.queue({
    id: `JOB-DB-${++sequence}`,
    requestId: 'REQ-DB',
    deviceId,
    packageId: 'visio',
    action: 'install',
    attempt: sequence,
    queuedAt: new Date().toISOString(),
    traceParent: null,
  });
}

/** A listening doorbell, as an API node holds one, with the lines it logs. */
async function listeningNode(): Promise<{ doorbell: Doorbell.JobDoorbell; lines: string[] }> {
  const lines: string[] = [];
  const doorbell = doorbells.listenJobDoorbell(url, { log: (line) => lines.push(line), maxBackoffMs: 500 });
  open.push(doorbell);
  await waitFor(async () => (await listeners()).length > 0, 'the doorbell to LISTEN');
  return { doorbell, lines };
}

/** Backends of the cluster LISTENing on the channel. */
async function listeners(): Promise<number[]> {
  const rows = await client.selectRows<{ pid: number }>(
    nodeA,
    sql`select pid from pg_stat_activity where query = ${`LISTEN ${doorbells.DEVICE_JOBS_CHANNEL}`}`,
  );
  return rows.map((r) => r.pid);
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!postgresAvailable)(title, () => {
  beforeAll(async () => {
    pg = await seededPostgres('doorbell', 'REQ-DB');
    url = pg.url;
    client = pg.client;
    nodeA = pg.db;
    jobsModule = await import('../deployments/jobs.js');
    doorbells = await import('../runtime/job-doorbell.js');
  }, 120_000);

  afterEach(async () => {
    for (const doorbell of open.splice(0)) doorbell.close();
    await waitFor(async () => (await listeners()).length === 0, 'closed doorbells to stop listening');
  });

  afterAll(async () => {
    never.abort();
    if (nodeA) await client.closeDatabase(nodeA);
    pg?.server.stop();
  });

  it("a job queued through one node wakes the device's poll held by another node, and only that device's", async () => {
    const { doorbell } = await listeningNode();
    const bob = heldWithoutJobs(doorbell, 'LAPTOP-BOB');
    const alices = arrival(doorbell.wait('LAPTOP-ALICE', REREAD_MS, never.signal));
    await queueFor('LAPTOP-ALICE');
    expect(await alices).toBe('woken');
    expect(bob.woke()).toBe(false);
  });

  it('every listening node hears it: the poll is answered by whichever node holds it', async () => {
    const nodes = [await listeningNode(), await listeningNode()];
    await waitFor(async () => (await listeners()).length === 2, 'both doorbells to LISTEN');
    const held = nodes.map(({ doorbell }) => arrival(doorbell.wait('LAPTOP-ALICE', REREAD_MS, never.signal)));
    await queueFor('LAPTOP-ALICE');
    expect(await Promise.all(held)).toEqual(['woken', 'woken']);
  });

  it('listens again after its connection is cut, and then hears the next job', async () => {
    const { doorbell, lines } = await listeningNode();
    const [pid] = await listeners();
    await client.execute(nodeA, sql`select pg_terminate_backend(${pid})`);
    await waitFor(() => lines.includes('job doorbell: listening again'), 'the doorbell to listen again');
    expect(await listeners()).not.toContain(pid);
    const alices = arrival(doorbell.wait('LAPTOP-ALICE', REREAD_MS, never.signal));
    await queueFor('LAPTOP-ALICE');
    expect(await alices).toBe('woken');
  });

  it('a job rolled back is never announced', async () => {
    const { doorbell } = await listeningNode();
    const carol = heldWithoutJobs(doorbell, 'LAPTOP-CAROL');
    const { transaction } = await import('../db/transaction.js');
    await expect(
      transaction(nodeA, async () => {
        await queueFor('LAPTOP-CAROL');
        throw new Error('the caller changed its mind');
      }),
    ).rejects.toThrow('changed its mind');
    // A job queued after it, for another device, arrives; by then Carol's would have too.
    const alices = arrival(doorbell.wait('LAPTOP-ALICE', REREAD_MS, never.signal));
    await queueFor('LAPTOP-ALICE');
    expect(await alices).toBe('woken');
    expect(carol.woke()).toBe(false);
  });
});
