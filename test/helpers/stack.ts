import { Client, Connection } from '@temporalio/client';
// Default import: the package is CommonJS, and Node's ESM loader cannot see its named exports.
import proto from '@temporalio/proto';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeDatabase, openDatabase, openPostgresDatabase, type DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { seed } from '../../db/seed.js';
import type { RequestView } from '../../api/schemas/requests.js';
import { isFinalStatus } from '../../domain/status.js';
import { repoRoot } from '../../runtime/config.js';
import { ensureDeviceToken } from '../../devices/index.js';
import { freePort } from '../../scripts/dev-server.js';
import { newPostgresDatabase, onPostgres } from './postgres-databases.js';

/** The provisioning token every test stack's API takes at /scim/v2 (SCIM_TOKEN). */
export const SCIM_TOKEN = 'e2e-scim-token-0123456789abcdef0123456789abcdef';

/** For waitForRequest: the request has reached a final status. */
export const ended = (r: RequestView) => isFinalStatus(r.status);

/**
 * For waitForRequest: the approvers can decide (their tasks and notifications exist) and the
 * request says on whom it waits. The POST answer carries this only when the workflow got
 * there within the submit wait, which a loaded machine does not promise.
 */
export const awaitingApproval = (r: RequestView) => r.status === 'awaiting_approval' && r.waitingOn !== null;
/** A failed deployment waiting for an operator to retry it or give up. */
export const awaitingDecision = (r: RequestView) => r.status === 'awaiting_decision';

/** A question with service levels short enough to see a warning and a breach in a test. */
const quickQuestion: typeof t.catalogItems.$inferInsert = {
  id: 'quick-question',
  name: 'Quick question',
  type: 'information',
  description: 'A question with a 3-second service level (test fixture)',
  fulfillmentGroupId: 'service-desk',
  sla: { request: '3s', humanStep: '2s', warnBefore: '1s' },
  formFields: [{ name: 'question', label: 'Your question', type: 'textarea', required: true }],
};

/** Test-only catalog items whose packages live in test/fixtures/packages. */
const fixtureItems: (typeof t.catalogItems.$inferInsert)[] = [
  { id: 'tiny-tool', packageId: 'tiny-tool', licensePoolId: 'tiny-tool' },
  { id: 'notes-tool', packageId: 'notes-tool', licensePoolId: null },
  { id: 'flaky-tool', packageId: 'flaky-tool', licensePoolId: null },
  { id: 'broken-tool', packageId: 'broken-tool', licensePoolId: 'broken-tool' },
  { id: 'blocked-tool', packageId: 'blocked-tool', licensePoolId: 'blocked-tool' },
].map((i) => ({
  ...i,
  name: i.id,
  type: 'standard_service' as const,
  description: `${i.id} (test fixture)`,
  changeModel: 'standard' as const,
  allowedRoles: null,
  fulfillmentGroupId: 'service-desk',
  formFields: [{ name: 'deviceId', label: 'Device', type: 'device' as const, required: true }],
}));

interface Proc {
  name: string;
  child: ChildProcess;
  /** The exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
}

export interface TestStack {
  apiUrl: string;
  /** The stack's own task queue on the shared server (scope CLI batch queries with it). */
  taskQueue: string;
  dataDir: string;
  db: DB;
  temporal: Client;
  /** Everything the processes printed, for failure messages. */
  output: string[];
  startWorker(): void;
  stopWorker(signal?: NodeJS.Signals): Promise<void>;
  startAgent(deviceId?: string): void;
  /** `agent/main.ts` with these arguments (e.g. `enroll --token …`), its output under `[agent:<name>]`. */
  startAgentWith(name: string, args: string[]): { exited: Promise<number | null> };
  stopAgent(): Promise<void>;
  login(userId: string): Promise<string>;
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  /** A SCIM call as an identity provider makes it: the provisioning token, application/scim+json. */
  scim(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  submit(token: string, body: unknown, headers?: Record<string, string>): Promise<RequestView>;
  waitForRequest(
    token: string,
    id: string,
    ok: (r: RequestView) => boolean,
    timeoutMs?: number,
  ): Promise<RequestView>;
  stop(): Promise<void>;
}

/**
 * The real stack for end-to-end tests: the worker, the API and the device agent as
 * separate processes (exactly as `npm start` runs them) on a temporary DATA_DIR, a
 * free port and a task queue of their own on the shared test Temporal server.
 */
export async function startStack(
  temporalAddress: string,
  /** Added to the processes' environment; undefined removes a variable (TEMPORAL_ADDRESS, to use a profile). */
  extraEnv: Record<string, string | undefined> = {},
  /** The namespace the processes use, when extraEnv names another than `default`. */
  { namespace = 'default' }: { namespace?: string } = {},
): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'reqflow-e2e-'));
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_URL: apiUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: `e2e-${randomUUID()}`,
    REQFLOW_DEV_MODE: '1',
    PACKAGES_DIR: `${join(repoRoot, 'packages')}:${join(repoRoot, 'test/fixtures/packages')}`,
    LOG_LEVEL: 'warn',
    // A 503 under load is the API's promise, and its own tests ask for it; a loaded test machine
    // must not turn away the requests of tests about everything else.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    SCIM_TOKEN,
    ...extraEnv,
  };
  // In the postgres project every stack gets a database of its own; in the sqlite one, the file in DATA_DIR.
  if (onPostgres) env.DATABASE_URL = await newPostgresDatabase();
  for (const [name, value] of Object.entries(extraEnv)) if (value === undefined) delete env[name];
  const db = env.DATABASE_URL
    ? await openPostgresDatabase(env.DATABASE_URL, { migrate: false })
    : openDatabase(join(dataDir, 'reqflow.db'));
  await seed(db);
  await db.insert(t.licensePools).values([
    { id: 'tiny-tool', product: 'tiny-tool', totalSeats: 1 },
    { id: 'broken-tool', product: 'broken-tool', totalSeats: 2 },
    { id: 'blocked-tool', product: 'blocked-tool', totalSeats: 1 },
  ]);
  await db.insert(t.catalogItems).values([...fixtureItems, quickQuestion]);
  for (const device of ['LAPTOP-ALICE', 'LAPTOP-BOB']) await ensureDeviceToken(db, dataDir, device);

  const output: string[] = [];
  const procs = new Map<string, Proc>();
  const start = (name: string, script: string, args: string[] = []) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) output.push(`[${name}] ${line}`);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    procs.set(name, { name, child, exited });
    return { exited };
  };
  const stopProc = async (name: string, signal: NodeJS.Signals = 'SIGTERM') => {
    const p = procs.get(name);
    if (!p) return;
    procs.delete(name);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
    const done = await Promise.race([p.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  };

  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection, namespace });

  const call: TestStack['call'] = async (method, path, opts = {}) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      headers: res.headers,
    };
  };

  const stack: TestStack = {
    apiUrl,
    taskQueue: env.TEMPORAL_TASK_QUEUE!,
    dataDir,
    db,
    temporal,
    output,
    startWorker: () => start('worker', 'worker.ts'),
    stopWorker: (signal) => stopProc('worker', signal),
    startAgent: (deviceId = 'LAPTOP-ALICE') =>
      start(`agent:${deviceId}`, 'agent/main.ts', ['--device', deviceId, '--api', apiUrl]),
    startAgentWith: (name, args) => start(`agent:${name}`, 'agent/main.ts', args),
    stopAgent: async () => {
      for (const name of [...procs.keys()].filter((n) => n.startsWith('agent:'))) await stopProc(name);
    },
    async login(userId) {
      const res = await call('POST', '/api/dev/login', { body: { userId } });
      if (res.status !== 200) throw new Error(`login ${userId}: ${res.status} ${JSON.stringify(res.body)}`);
      return (res.body as { token: string }).token;
    },
    call,
    scim: (method, path, body) =>
      call(method, `/scim/v2${path}`, {
        token: SCIM_TOKEN,
        ...(body !== undefined ? { body, headers: { 'content-type': 'application/scim+json' } } : {}),
      }),
    async submit(token, body, headers) {
      const res = await call('POST', '/api/requests', { token, body, ...(headers ? { headers } : {}) });
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as RequestView;
    },
    async waitForRequest(token, id, ok, timeoutMs = 45_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        const res = await call('GET', `/api/requests/${id}`, { token });
        last = res.body;
        if (res.status === 200 && ok(res.body as RequestView)) return res.body as RequestView;
        await sleep(150);
      }
      throw new Error(
        `request ${id} did not reach the expected state; last seen:\n${JSON.stringify(last, null, 2)}\n` +
          `process output:\n${output.slice(-60).join('\n')}`,
      );
    },
    async stop() {
      for (const name of [...procs.keys()].reverse()) await stopProc(name);
      await connection.close();
      await closeDatabase(db);
    },
  };

  start('worker', 'worker.ts');
  start('api', 'server.ts');
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${apiUrl}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stack.stop();
      throw new Error(`API did not become ready:\n${output.join('\n')}`);
    }
    await sleep(200);
  }
  // And the worker polls: it bundles the workflows first, which takes a while on a loaded
  // machine; a test's own time should not pay for that.
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = proto.temporal.api.enums.v1.TaskQueueType;
  const polling = async (taskQueueType: proto.temporal.api.enums.v1.TaskQueueType) => {
    const { pollers } = await temporal.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: stack.taskQueue },
      taskQueueType,
    });
    return (pollers ?? []).length > 0;
  };
  const workerDeadline = Date.now() + 150_000;
  while (!((await polling(TASK_QUEUE_TYPE_WORKFLOW)) && (await polling(TASK_QUEUE_TYPE_ACTIVITY)))) {
    if (Date.now() > workerDeadline) {
      await stack.stop();
      throw new Error(`the worker never polled ${stack.taskQueue}:\n${output.join('\n')}`);
    }
    await sleep(200);
  }
  return stack;
}
