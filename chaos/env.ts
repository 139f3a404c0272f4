/**
 * Where a chaos scenario runs, on loopback and free ports under a temporary directory: the
 * embedded stack exactly as `npm start` runs it (its supervisor restarts what dies), or a
 * scale-out shape started piece by piece (a dev server, an API, an agent and a pool of workers
 * that this harness restarts, as a process manager would).
 */
import { Client, Connection } from '@temporalio/client';
// Default import: the package is CommonJS, and Node's ESM loader cannot see its named exports.
import proto from '@temporalio/proto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../runtime/config.js';
import { readStackState, stackStateFile } from '../runtime/stack-state.js';
import { freePort, startDevServer, type DevServer } from '../scripts/dev-server.js';
import { startBalancer } from './balancer.js';
import { chaosCatalogDir } from './fixtures.js';

export interface Env {
  name: string;
  apiUrl: string;
  /** Every API node, when there are several: clients take turns among them. */
  apiUrls?: string[];
  dataDir: string;
  databaseFile: string;
  temporal: Client;
  taskQueue: string;
  /** The pid of a process by role (worker, api, agent, temporal); undefined while it is down. */
  pid(role: string): number | undefined;
  /** Every worker's pid (one under the embedded stack). */
  workers(): number[];
  /** Lines the processes printed: for a failure's explanation. */
  tail(lines?: number): string;
  stop(): Promise<number | null>;
}

const TASK_QUEUE = 'reqflow';

/** The environment every process of a chaos run shares. */
export async function baseEnv(dataDir: string, packagesDir: string): Promise<NodeJS.ProcessEnv> {
  const port = await freePort();
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.TEMPORAL_CLI_PATH ? { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH } : {}),
    ...(process.env.REQFLOW_CACHE_DIR ? { REQFLOW_CACHE_DIR: process.env.REQFLOW_CACHE_DIR } : {}),
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REQFLOW_DEV_MODE: '1',
    PACKAGES_DIR: `${join(repoRoot, 'packages')}:${packagesDir}`,
    // The stack applies its catalog at start: the chaos software must be in it, or it is retired.
    CATALOG_DIR: chaosCatalogDir(dataDir),
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    LOG_LEVEL: 'warn',
    LOG_PRETTY: '0',
  };
}

class Output {
  private readonly lines: string[] = [];
  private readonly file: WriteStream;
  constructor(path: string) {
    this.file = createWriteStream(path, { flags: 'a' });
  }
  attach(prefix: string, child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const parts = (rest + chunk.toString()).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) this.push(`${prefix}${line}`);
      });
    }
  }
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 1000);
    this.file.write(`${line}\n`);
  }
  tail(n: number): string {
    return this.lines.slice(-n).join('\n');
  }
  async close(): Promise<void> {
    await new Promise((resolve) => this.file.end(resolve));
  }
}

async function waitReady(apiUrl: string, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${apiUrl}/ready`)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the API at ${apiUrl} was not ready in time\n${why()}`);
    await sleep(250);
  }
}

/** `npm start` (scripts/stack.ts) on its own ports: what an operator runs. */
export async function startEmbedded(dataDir: string, env: NodeJS.ProcessEnv): Promise<Env> {
  const output = new Output(join(dataDir, 'chaos-embedded.log'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/stack.ts')], {
    cwd: repoRoot,
    env: { ...env, TEMPORAL_PORT: String(await freePort()), TEMPORAL_UI_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output.attach('', child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const state = () => readStackState(stackStateFile(dataDir));
  const apiUrl = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + 180_000;
  while (!state()?.processes.agent?.pid) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`npm start did not come up:\n${output.tail(80)}`);
    }
    await sleep(250);
  }
  await waitReady(apiUrl, 60_000, () => output.tail(80));
  const connection = await Connection.connect({ address: state()!.temporal.address });
  return {
    name: 'embedded stack (npm start)',
    apiUrl,
    dataDir,
    databaseFile: join(dataDir, 'reqflow.db'),
    temporal: new Client({ connection }),
    taskQueue: TASK_QUEUE,
    pid: (role) => state()?.processes[role]?.pid ?? undefined,
    workers: () => {
      const pid = state()?.processes.worker?.pid;
      return pid ? [pid] : [];
    },
    tail: (n = 60) => output.tail(n),
    async stop() {
      await connection.close();
      if (child.exitCode === null) child.kill('SIGINT');
      const code = await exited;
      await output.close();
      return code;
    },
  };
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * The scale-out shape on one machine: a dev server, one API, one agent and `workers` worker
 * processes started one by one. A worker that exits is started again after a second.
 */
export async function startPool(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  opts: { cliPath: string; workers: number },
): Promise<Env> {
  const output = new Output(join(dataDir, 'chaos-pool.log'));
  const server: DevServer = await startDevServer({
    cliPath: opts.cliPath,
    dbFile: join(dataDir, 'temporal.db'),
    uiPort: null,
    ownProcessGroup: true,
    log: (line) => output.push(`[temporal] ${line}`),
  });
  const fullEnv = { ...env, TEMPORAL_ADDRESS: server.address };
  let stopping = false;
  const start = (name: string, script: string, args: string[] = []): Proc => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
      cwd: repoRoot,
      env: fullEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output.attach(`[${name}] `, child);
    return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
  };
  const workers: (Proc | undefined)[] = [];
  const keepWorker = (slot: number) => {
    const proc = start(`worker-${slot + 1}`, 'worker.ts');
    workers[slot] = proc;
    void proc.exited.then(async () => {
      workers[slot] = undefined;
      if (stopping) return;
      output.push(
        `[chaos] worker-${slot + 1} exited (${proc.child.signalCode ?? proc.child.exitCode}); starting it again`,
      );
      await sleep(1000);
      if (!stopping) keepWorker(slot);
    });
  };
  for (let slot = 0; slot < opts.workers; slot++) keepWorker(slot);
  const api = start('api', 'server.ts');
  const apiUrl = `http://127.0.0.1:${env.PORT}`;
  await waitReady(apiUrl, 120_000, () => output.tail(80));
  const agent = start('agent', 'agent/main.ts', ['--device', 'LAPTOP-ALICE', '--api', apiUrl]);
  const connection = await Connection.connect({ address: server.address });
  const stopProc = async (p: Proc | undefined) => {
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGTERM');
    const done = await Promise.race([p.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) p.child.kill('SIGKILL');
    await p.exited;
  };
  return {
    name: `a pool of ${opts.workers} workers started separately`,
    apiUrl,
    dataDir,
    databaseFile: join(dataDir, 'reqflow.db'),
    temporal: new Client({ connection }),
    taskQueue: TASK_QUEUE,
    pid: (role) => (role === 'api' ? api.child.pid : role === 'agent' ? agent.child.pid : server.process.pid),
    workers: () => workers.flatMap((w) => (w?.child.pid && w.child.exitCode === null ? [w.child.pid] : [])),
    tail: (n = 60) => output.tail(n),
    async stop() {
      stopping = true;
      await connection.close();
      await stopProc(agent);
      await stopProc(api);
      await Promise.all(workers.map(stopProc));
      await server.stop();
      await output.close();
      return 0;
    },
  };
}

/** Whether a worker with this pid polls both halves of the task queue (its identity is `pid@host`). */
export async function workerPolls(env: Env, pid: number): Promise<boolean> {
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = proto.temporal.api.enums.v1.TaskQueueType;
  try {
    for (const taskQueueType of [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY]) {
      const { pollers } = await env.temporal.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: env.taskQueue },
        taskQueueType,
      });
      // A poller that was seen in the last few seconds; the dead one lingers in the list a while.
      const now = Date.now() / 1000;
      const fresh = (pollers ?? []).filter(
        (p) => p.identity?.startsWith(`${pid}@`) && now - Number(p.lastAccessTime?.seconds ?? 0) < 10,
      );
      if (fresh.length === 0) return false;
    }
    return true;
  } catch {
    return false; // the server is down or restarting
  }
}

export async function apiReady(env: Env): Promise<boolean> {
  try {
    return (await fetch(`${env.apiUrl}/ready`, { signal: AbortSignal.timeout(5000) })).ok;
  } catch {
    return false;
  }
}

/**
 * Scale-out across nodes: `apis` API processes on ports of their own and `workers` worker
 * processes, all on one database (DATABASE_URL in `env`) and one Temporal server that this
 * harness does not own. Nothing is restarted: a process that dies stays dead, and the others
 * carry its load. The agent reaches the APIs through a load balancer (chaos/balancer.ts).
 * `pid('api')` and `pid('worker')` name the first of each, the ones a scenario kills.
 */
export async function startNodes(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  opts: { temporalAddress: string; workers: number; apis: number },
): Promise<Env & { agentConnections: Record<number, number> }> {
  const output = new Output(join(dataDir, 'chaos-nodes.log'));
  const procs: Proc[] = [];
  const start = (name: string, script: string, extra: NodeJS.ProcessEnv, args: string[] = []): Proc => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
      cwd: repoRoot,
      env: { ...env, TEMPORAL_ADDRESS: opts.temporalAddress, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output.attach(`[${name}] `, child);
    const proc = { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
    procs.push(proc);
    return proc;
  };
  const live = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
  const workers = Array.from({ length: opts.workers }, (_, i) => start(`worker-${i + 1}`, 'worker.ts', {}));
  const ports: number[] = [];
  const apis: Proc[] = [];
  for (let i = 0; i < opts.apis; i++) {
    const port = await freePort();
    ports.push(port);
    apis.push(
      start(`api-${i + 1}`, 'server.ts', { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }),
    );
  }
  const apiUrls = ports.map((port) => `http://127.0.0.1:${port}`);
  for (const url of apiUrls) await waitReady(url, 180_000, () => output.tail(80));
  const balancer = await startBalancer(ports);
  const agent = start('agent', 'agent/main.ts', {}, ['--device', 'LAPTOP-ALICE', '--api', balancer.url]);
  const connection = await Connection.connect({ address: opts.temporalAddress });
  const stopProc = async (p: Proc) => {
    if (!live(p)) return;
    p.child.kill('SIGTERM');
    const done = await Promise.race([p.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) p.child.kill('SIGKILL');
    await p.exited;
  };
  const firstLive = (ps: Proc[]) => ps.find(live)?.child.pid;
  return {
    name: `${opts.workers} workers and ${opts.apis} API nodes on one database`,
    apiUrl: apiUrls[0]!,
    apiUrls,
    dataDir,
    databaseFile: join(dataDir, 'reqflow.db'),
    temporal: new Client({ connection }),
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? TASK_QUEUE,
    agentConnections: balancer.connections,
    pid: (role) =>
      role === 'api'
        ? firstLive(apis)
        : role === 'worker'
          ? firstLive(workers)
          : role === 'agent'
            ? agent.child.pid
            : undefined,
    workers: () => workers.filter(live).flatMap((w) => (w.child.pid ? [w.child.pid] : [])),
    tail: (n = 60) => output.tail(n),
    async stop() {
      await connection.close();
      await stopProc(agent);
      await balancer.close();
      await Promise.all(procs.map(stopProc));
      await output.close();
      return 0;
    },
  };
}
