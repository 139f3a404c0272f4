import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type * as ChaosEnv from '../chaos/env.js';
import type { Result } from '../chaos/scenarios.js';
import type { DB } from '../db/client.js';
import { startPostgres, type PostgresServer } from '../scripts/postgres.js';
import { postgresAvailable } from './helpers/seeded-postgres.js';

// Scale-out end to end: one PostgreSQL, one Temporal server (the suite's dev server), two
// worker processes and two API processes (worker.ts and server.ts with the same DATABASE_URL
// on ports of their own), the real device agent behind a load balancer, and clients that take
// turns between the APIs and move to the other one when theirs refuses the connection.
// 200 mixed requests (chaos/workload.ts: knowledge answers, access with the manager's approval
// or denial over HTTP, monitors through procurement, software installed by the agent,
// feedback); once a quarter have ended, one worker and one API node are killed with SIGKILL
// and not started again. Every request must still reach its end, with no side effect twice
// (chaos/checks.ts: memberships, seats, CMDB records, installs on the device, jobs,
// notifications, audit entries) and the audit chain intact.
//
// The app's modules (through chaos/) are imported once the cluster's URL is DATABASE_URL:
// db/schema.ts binds its tables when it loads.
const title = postgresAvailable
  ? 'two workers and two API nodes on PostgreSQL'
  : 'two workers and two API nodes on PostgreSQL (SKIPPED: no initdb/pg_ctl; install postgresql)';

const REQUESTS = 200;
const SOFTWARE_TOOLS = 20;

let server: PostgresServer | undefined;
let root: string;
let env: Awaited<ReturnType<typeof ChaosEnv.startNodes>> | undefined;
let db: DB | undefined;
let closeDatabase: ((db: DB) => Promise<void>) | undefined;

describe.skipIf(!postgresAvailable)(title, () => {
  beforeAll(async () => {
    server = await startPostgres();
    const databaseUrl = await server.createDatabase('multinode');
    process.env.DATABASE_URL = databaseUrl;
    const { baseEnv, startNodes } = await import('../chaos/env.js');
    const { prepareFixtures } = await import('../chaos/fixtures.js');
    const client = await import('../db/client.js');
    closeDatabase = client.closeDatabase;

    root = mkdtempSync(join(tmpdir(), 'reqflow-multinode-'));
    const dataDir = join(root, 'data');
    const packagesDir = join(root, 'packages');
    await prepareFixtures({
      dataDir,
      databaseFile: join(dataDir, 'reqflow.db'),
      databaseUrl,
      packagesDir,
      users: REQUESTS,
      tools: SOFTWARE_TOOLS,
      installSeconds: 1,
    });
    const shared = {
      ...(await baseEnv(dataDir, packagesDir)),
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '5',
      // Every node signs and checks tokens and links with the same secret.
      REQFLOW_SECRET: 'multinode-e2e-secret-0123456789abcdef0123456789',
      // The dev server is the suite's: a task queue of its own keeps other files' workers out.
      TEMPORAL_TASK_QUEUE: `multinode-${process.pid}`,
    };
    env = await startNodes(dataDir, shared, {
      temporalAddress: inject('temporalAddress'),
      workers: 2,
      apis: 2,
    });
    db = await client.connectDatabase({ databaseUrl, databaseFile: join(dataDir, 'reqflow.db') });
  }, 300_000);

  afterAll(async () => {
    await env?.stop();
    if (db) await closeDatabase?.(db);
    server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('200 mixed requests all end, with no side effect twice, after SIGKILL of one worker and one API node', async () => {
    const { nodeKills } = await import('../chaos/scenarios.js');
    const { Allocator } = await import('../chaos/workload.js');
    const lines: string[] = [];
    const log = (line: string) => {
      lines.push(line);
      console.log(line);
    };
    const [firstWorker, firstApi] = [env!.pid('worker'), env!.pid('api')];
    const result: Result = await nodeKills(
      env!,
      db!,
      { requests: REQUESTS, kills: 1, deadlineMs: 240_000, rng: Math.random, log },
      new Allocator(),
    );
    const f = result.findings;
    console.log(
      [
        `multinode: ${f.requests} requests in ${result.seconds.toFixed(0)} s; ${result.actions} approvals/tasks over HTTP`,
        `  final statuses: ${JSON.stringify(f.finals)}`,
        `  duplicates found: ${JSON.stringify(f.duplicates)}`,
        `  side effects: ${JSON.stringify(f.counts)}`,
        `  calls answered by node: ${JSON.stringify(result.answeredBy)}; retried: ${JSON.stringify(result.retries)}`,
        `  agent connections by API port: ${JSON.stringify(env!.agentConnections)}`,
        `  audit chain: ${JSON.stringify(f.auditChain)}`,
        ...result.notes.map((n) => `  note: ${n}`),
        ...f.lost.slice(0, 10).map((l) => `  lost: ${l}`),
        ...f.wrong.slice(0, 10).map((w) => `  wrong: ${w}`),
      ].join('\n'),
    );
    if (f.lost.length > 0 || f.wrong.length > 0) console.log(env!.tail(120));

    // The kills happened, mid-run, and neither process came back.
    expect(lines.filter((l) => l.trimStart().startsWith('kill -9'))).toHaveLength(2);
    expect(env!.workers()).not.toContain(firstWorker);
    expect(env!.pid('api')).not.toBe(firstApi);
    expect(result.notes).toEqual([]);
    expect(f.lost).toEqual([]);
    expect(f.wrong).toEqual([]);
    expect(f.duplicates).toEqual({
      requestsPerKey: 0,
      notifications: 0,
      seats: 0,
      cmdbCis: 0,
      memberships: 0,
      auditEntries: 0,
      installs: 0,
      jobs: 0,
    });
    expect(f.auditChain.ok).toBe(true);
    // Both nodes answered clients, and installs were delivered to the agent by the survivor.
    const answered = Object.values(result.answeredBy);
    expect(answered).toHaveLength(2);
    expect(f.counts.installs).toBe(SOFTWARE_TOOLS);
    const survivorPort = Number(new URL(env!.apiUrls![1]!).port);
    expect(env!.agentConnections[survivorPort] ?? 0).toBeGreaterThan(0);
  }, 330_000);
});
