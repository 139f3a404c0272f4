import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase } from '../db/client.js';
import { seed } from '../db/seed.js';
import { loadConfig, repoRoot } from '../runtime/config.js';
import { checkStartup } from '../runtime/startup-checks.js';
import { ensureDeviceToken } from '../devices/index.js';
import { startDevServer } from './dev-server.js';
import { resolveTemporalCli } from './temporal-cli.js';

// `npm start`: the embedded default of DESIGN.md §4 — a Temporal dev server with its
// SQLite file and Web UI, the database migrated and seeded, the worker, the API and
// a device agent for LAPTOP-ALICE. One command, one Ctrl-C.

const EMBEDDED_DEVICE = 'LAPTOP-ALICE';

function say(line: string): void {
  console.log(`[stack] ${line}`);
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

function startChild(name: string, script: string, args: string[], env: NodeJS.ProcessEnv): Child {
  // Own process group (detached) so the terminal's Ctrl-C reaches only this script,
  // which then stops the children in order: agent and API first, the dev server last.
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = `[${name}]`.padEnd(9);
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => console.log(`${prefix} ${line}`));
  }
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { name, proc, exited };
}

async function stopChild(child: Child, timeoutMs = 15_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    say(`${child.name} did not stop within ${timeoutMs / 1000}s; killing it`);
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

async function waitForApi(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(300);
  }
  throw new Error(`the API at ${url} was not ready within ${timeoutMs / 1000}s`);
}

let devServer: Awaited<ReturnType<typeof startDevServer>> | undefined;
const children: Child[] = [];
let stopping = false;

async function shutdown(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${reason}: stopping`);
  for (const child of [...children].reverse()) await stopChild(child);
  if (devServer) {
    say('stopping the Temporal dev server');
    await devServer.stop();
  }
  say('stopped');
  process.exit(code);
}

async function run(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void shutdown(signal, 0));
  }
  const embedded = !process.env.TEMPORAL_ADDRESS;
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_PRETTY: process.env.LOG_PRETTY ?? '1' };
  if (embedded) env.REQFLOW_DEV_MODE ??= '1';
  const config = loadConfig(env);
  checkStartup(config);
  env.DATA_DIR = config.dataDir;
  mkdirSync(config.dataDir, { recursive: true });
  say(`data directory: ${config.dataDir}`);

  if (embedded) {
    const cliPath = await resolveTemporalCli({ log: say });
    const port = Number(process.env.TEMPORAL_PORT ?? 7233);
    const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
    say(
      `starting the Temporal dev server on 127.0.0.1:${port} (history in ${join(config.dataDir, 'temporal.db')})`,
    );
    devServer = await startDevServer({
      cliPath,
      port,
      uiPort,
      dbFile: join(config.dataDir, 'temporal.db'),
      log: (line) => console.log(`[temporal] ${line}`),
    });
    env.TEMPORAL_ADDRESS = devServer.address;
    env.TEMPORAL_UI_URL ??= devServer.uiUrl;
  } else {
    say(`using the Temporal server at ${process.env.TEMPORAL_ADDRESS}; not starting one`);
  }

  const db = openDatabase(config.databaseFile);
  try {
    await seed(db);
    await ensureDeviceToken(db, config.dataDir, EMBEDDED_DEVICE);
  } finally {
    db.$client.close();
  }
  say(`database ${config.databaseFile} migrated and seeded`);

  children.push(startChild('worker', 'worker.ts', [], env));
  children.push(startChild('api', 'server.ts', [], env));
  const apiUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  for (const child of children) {
    void child.exited.then((code) => {
      if (!stopping) void shutdown(`${child.name} exited with code ${code}`, 1);
    });
  }
  await waitForApi(apiUrl, 120_000);
  const agent = startChild('agent', 'agent/main.ts', ['--device', EMBEDDED_DEVICE, '--api', apiUrl], env);
  children.push(agent);
  void agent.exited.then((code) => {
    if (!stopping) void shutdown(`agent exited with code ${code}`, 1);
  });

  const uiUrl = env.TEMPORAL_UI_URL ?? config.temporal.uiUrl;
  console.log(
    [
      '',
      'reqflow is running:',
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
      'Ctrl-C stops everything; data stays in the data directory.',
      '',
    ].join('\n'),
  );
}

run().catch((err: unknown) => {
  console.error(`[stack] ${err instanceof Error ? err.message : String(err)}`);
  void shutdown('startup failed', 1);
});
