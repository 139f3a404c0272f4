import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeDatabase, connectDatabase } from '../db/client.js';
import { seedOrganisation } from '../db/seed.js';
import { CATALOG_SYNC_ACTOR, createCatalog, formatChanges, formatError } from '../service-catalog/index.js';
import { loadConfig, repoRoot } from '../runtime/config.js';
import { checkStartup } from '../runtime/startup-checks.js';
import { DEVICE_TOKEN_REFUSED } from '../agent/exit-codes.js';
import { ensureDeviceToken } from '../devices/index.js';
import {
  readStackState,
  removeStackState,
  STACK_STATE_ENV,
  stackIsRunning,
  WORKER_POLLING,
  stackStateFile,
  writeStackState,
  type StackState,
} from '../runtime/stack-state.js';
import { connectTemporal } from '../runtime/temporal.js';
import { checkNamespaceReady } from '../runtime/temporal-namespace.js';
import { readTemporalProfile } from '../runtime/temporal-profile.js';
import { startDevServer } from './dev-server.js';
import { Supervisor, type Exit, type Running } from './supervisor.js';
import { resolveTemporalCli } from './temporal-cli.js';

// `npm start`: the embedded default — a Temporal dev server with its SQLite file and Web UI,
// the database migrated and seeded, the worker, the API and a device agent for LAPTOP-ALICE.
// Every process is supervised: one that dies is restarted with a backoff, one that keeps
// dying stops the stack. One command, one Ctrl-C.

const EMBEDDED_DEVICE = 'LAPTOP-ALICE';

function say(line: string): void {
  console.log(`[stack] ${line}`);
}

/** How a child is asked to stop: each signal in turn, waiting `waitMs` for it to exit. */
type StopSteps = { signal: NodeJS.Signals; waitMs: number }[];

/**
 * The worker drains for up to its 10 s shutdownGraceTime; the API ends its long polls at
 * once and finishes in-flight requests within seconds, and gives up on its own after 20 s
 * (server.ts), before the stack would kill it. The agent first finishes its job and reports
 * it; a second SIGTERM abandons the job (the agent resumes it at its next start).
 */
const STOP_STEPS: Record<string, StopSteps> = {
  worker: [{ signal: 'SIGTERM', waitMs: 20_000 }],
  api: [{ signal: 'SIGTERM', waitMs: 25_000 }],
  agent: [
    { signal: 'SIGTERM', waitMs: 10_000 },
    { signal: 'SIGTERM', waitMs: 5_000 },
  ],
};

function startChild(name: string, script: string, args: string[], env: NodeJS.ProcessEnv): Running {
  // Own process group (detached) so the terminal's Ctrl-C reaches only this script, which
  // then stops the children in order. The IPC channel closes when this script dies, even by
  // kill -9, and a child that sees it close stops itself instead of running on orphaned.
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const prefix = `[${name}]`.padEnd(9);
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => console.log(`${prefix} ${line}`));
  }
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    // A process that cannot even be spawned emits only 'error'.
    proc.once('error', () => resolve({ code: null, signal: null }));
  });
  // The child never reads messages; the channel tells it that the stack is gone, and carries
  // the one message a child sends: a worker saying it polls.
  proc.on('message', (message) => {
    if (message === WORKER_POLLING) workerPolls();
  });
  proc.channel?.unref();
  const stop = async () => {
    const gone = () => proc.exitCode !== null || proc.signalCode !== null;
    for (const { signal, waitMs } of STOP_STEPS[name] ?? [{ signal: 'SIGTERM', waitMs: 15_000 }]) {
      if (gone()) break;
      proc.kill(signal);
      if (await Promise.race([exited.then(() => true), sleep(waitMs).then(() => false)])) break;
    }
    if (!gone()) {
      say(`${name} did not stop in time; killing it`);
      proc.kill('SIGKILL');
    }
    await exited;
  };
  return { pid: proc.pid, exited, stop };
}

/**
 * Resolves when a worker starts polling (its workflow bundle built): "reqflow is running" is
 * said only then, so the first request does not wait for a worker that is still starting.
 */
let workerPolls: () => void = () => undefined;
const workerPolling = new Promise<void>((resolve) => (workerPolls = resolve));
const WORKER_START_TIMEOUT_MS = 120_000;

let stopping = false;
/** In start order; stopped in reverse, so the dev server stops last. */
const supervisors: Supervisor[] = [];
let stateFile: string | undefined;
let state: StackState | undefined;

function publishState(): void {
  if (!state || !stateFile) return;
  for (const s of supervisors) {
    state.processes[s.name] = {
      pid: s.pid ?? null,
      restarts: s.restarts,
      ...(s.lastExit ? { lastExit: { ...s.lastExit } } : {}),
    };
  }
  try {
    writeStackState(stateFile, state);
  } catch (err) {
    say(`could not write ${stateFile}: ${String(err)}`);
  }
}

async function shutdown(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${reason}: stopping`);
  for (const supervisor of [...supervisors].reverse()) {
    say(`stopping the ${supervisor.name === 'temporal' ? 'Temporal dev server' : supervisor.name}`);
    await supervisor.stop();
  }
  if (stateFile) removeStackState(stateFile);
  say('stopped');
  process.exit(code);
}

function supervise(
  name: string,
  start: () => Promise<Running>,
  finalExit?: (exit: Exit) => string | undefined,
): Supervisor {
  const supervisor = new Supervisor({
    name,
    start,
    ...(finalExit ? { finalExit } : {}),
    log: say,
    onChange: publishState,
    onGiveUp: (reason) => {
      say(`${reason}. The stack cannot run without it; see its output above.`);
      void shutdown(`${name} keeps crashing`, 1);
    },
  });
  supervisors.push(supervisor);
  return supervisor;
}

/**
 * A previous `npm start` on this data directory that was killed (kill -9) left its Temporal dev
 * server running: its children notice the lost IPC channel and stop, the Go binary cannot.
 * Stop it, but only a process that is still that server (same pid, and its command line names
 * this database file), never one that merely got the pid later.
 */
async function stopLeftovers(file: string, dbFile: string): Promise<void> {
  const previous = readStackState(file);
  if (!previous || stackIsRunning(previous)) return;
  const pid = previous.processes.temporal?.pid;
  if (!pid) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // gone, or no /proc to tell (then leave it be)
  }
  if (!cmdline.includes('start-dev') || !cmdline.includes(dbFile)) return;
  say(`stopping the Temporal dev server (pid ${pid}) that a killed npm start left running`);
  const gone = () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // gone meanwhile
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 100 && !gone(); i++) await sleep(100);
  signal('SIGKILL');
  while (!gone()) await sleep(100);
}

async function waitForApi(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`${url}/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(300);
  }
  if (!stopping) throw new Error(`the API at ${url} was not ready within ${timeoutMs / 1000}s`);
}

async function run(): Promise<void> {
  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals === 1) return void shutdown(signal, 0);
      // A second Ctrl-C: the user does not want to wait for the orderly stop.
      say(`${signal} again: killing every process now`);
      for (const s of supervisors) if (s.pid !== undefined) process.kill(-s.pid, 'SIGKILL');
      process.exit(130);
    });
  }
  // A server named by TEMPORAL_ADDRESS or an envconfig profile (TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE).
  const embedded = readTemporalProfile(process.env).address === undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_PRETTY: process.env.LOG_PRETTY ?? '1' };
  if (embedded) env.REQFLOW_DEV_MODE ??= '1';
  const config = loadConfig(env);
  checkStartup(config);
  env.DATA_DIR = config.dataDir;
  mkdirSync(config.dataDir, { recursive: true });
  say(`data directory: ${config.dataDir}`);
  const apiUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  stateFile = stackStateFile(config.dataDir);
  env[STACK_STATE_ENV] = stateFile;
  const other = readStackState(stateFile);
  if (other && other.pid !== process.pid && stackIsRunning(other)) {
    const file = stateFile;
    stateFile = undefined; // theirs: neither overwrite nor remove it
    throw new Error(
      `another npm start (pid ${other.pid}) runs on ${config.dataDir} (${file}); stop it first`,
    );
  }

  let temporal: StackState['temporal'];
  if (embedded) {
    const cliPath = await resolveTemporalCli({ log: say });
    const port = Number(process.env.TEMPORAL_PORT ?? 7233);
    const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
    const dbFile = join(config.dataDir, 'temporal.db');
    await stopLeftovers(stateFile, dbFile);
    say(`starting the Temporal dev server on 127.0.0.1:${port} (history in ${dbFile})`);
    let uiUrl: string | undefined;
    // A restart reuses the port and the file: workers and clients reconnect on their own.
    await supervise('temporal', async () => {
      const server = await startDevServer({
        cliPath,
        port,
        uiPort,
        dbFile,
        ownProcessGroup: true,
        log: (line) => console.log(`[temporal] ${line}`),
      });
      uiUrl = server.uiUrl;
      return { pid: server.process.pid, exited: server.exited, stop: () => server.stop() };
    }).start();
    env.TEMPORAL_ADDRESS = `127.0.0.1:${port}`;
    env.TEMPORAL_UI_URL ??= uiUrl;
    temporal = { address: env.TEMPORAL_ADDRESS, embedded: true, ...(uiUrl ? { uiUrl } : {}) };
  } else {
    say(`using the Temporal server at ${config.temporal.address}; not starting one`);
    // Once here, rather than a worker and an API that refuse and are restarted until the stack gives up.
    const connection = await connectTemporal(config);
    try {
      const warning = await checkNamespaceReady(
        connection,
        config.temporal.namespace,
        config.temporal.address,
      );
      if (warning) say(`warning: ${warning}`);
    } finally {
      await connection.close();
    }
    temporal = { address: config.temporal.address, embedded: false };
  }
  state = { pid: process.pid, startedAt: new Date().toISOString(), temporal, api: apiUrl, processes: {} };
  publishState();

  const db = await connectDatabase(config);
  try {
    await seedOrganisation(db);
    await ensureDeviceToken(db, config.dataDir, EMBEDDED_DEVICE);
    say(`database ${config.databaseFile} migrated and seeded`);
    // A bad catalog file does not keep the service down: the catalog stays as it was, and says why.
    const catalog = await createCatalog({ db, dir: config.catalogDir }).apply(CATALOG_SYNC_ACTOR);
    if (catalog.errors.length > 0) {
      say(
        `catalog ${config.catalogDir} has ${catalog.errors.length} error(s); nothing of it was applied, the catalog stays as it was:\n` +
          catalog.errors.map((e) => `  ${formatError(e)}`).join('\n'),
      );
    } else {
      say(`catalog ${config.catalogDir} applied:\n${formatChanges(catalog.changes)}`);
    }
  } finally {
    await closeDatabase(db);
  }

  await supervise('worker', async () => startChild('worker', 'worker.ts', [], env)).start();
  await supervise('api', async () => startChild('api', 'server.ts', [], env)).start();
  await waitForApi(apiUrl, 120_000);
  if (stopping) return;
  const agentArgs = ['--device', EMBEDDED_DEVICE, '--api', apiUrl];
  // Started while the worker may still be bundling its workflows (it needs only the API), so
  // that its long poll is already held when the first request queues a job. An unenrolled
  // laptop's agent stops for good; the rest of the stack serves on, and the next `npm start`
  // enrolls the laptop again.
  await supervise(
    'agent',
    async () => startChild('agent', 'agent/main.ts', agentArgs, env),
    (exit) =>
      exit.code === DEVICE_TOKEN_REFUSED
        ? `the API refused ${EMBEDDED_DEVICE}'s token (unenrolled?); restart npm start to enroll it again`
        : undefined,
  ).start();
  const polling = await Promise.race([
    workerPolling.then(() => true),
    sleep(WORKER_START_TIMEOUT_MS).then(() => false),
  ]);
  if (stopping) return;
  if (!polling) say(`no worker polls after ${WORKER_START_TIMEOUT_MS / 1000}s; requests wait until one does`);

  const uiUrl = env.TEMPORAL_UI_URL ?? config.temporal.uiUrl;
  console.log(
    [
      '',
      'reqflow is running:',
      `  Portal       ${apiUrl}/`,
      `  API          ${apiUrl}`,
      `  OpenAPI docs ${apiUrl}/docs`,
      `  Temporal UI  ${uiUrl}`,
      `  device agent ${EMBEDDED_DEVICE} (installs into ${join(config.dataDir, 'devices', EMBEDDED_DEVICE, 'root')})`,
      '',
      'Try it:',
      `  TOKEN=$(curl -s -X POST ${apiUrl}/api/dev/login -H 'content-type: application/json' -d '{"userId":"alice"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')`,
      `  curl -s -X POST ${apiUrl}/api/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `       -d '{"catalogItemId":"visio","deviceId":"LAPTOP-ALICE","justification":"Architecture diagrams"}'`,
      '',
      'A process that dies is restarted (restarts are counted in /metrics); Ctrl-C stops everything;',
      'data stays in the data directory.',
      '',
    ].join('\n'),
  );
}

run().catch((err: unknown) => {
  console.error(`[stack] ${err instanceof Error ? err.message : String(err)}`);
  void shutdown('startup failed', 1);
});
