import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../runtime/config.js';
import { readStackState, stackStateFile, type StackState } from '../../runtime/stack-state.js';
import { freePort } from '../../scripts/dev-server.js';
import { newPostgresDatabase, onPostgres } from './postgres-databases.js';

/**
 * In the postgres project, the database each DATA_DIR's stack uses: a fresh one for a new
 * directory, the same one when a test starts the stack again on a directory (as a restart would).
 */
const postgresFor = new Map<string, string>();

async function databaseFor(dataDir: string): Promise<Record<string, string>> {
  if (!onPostgres) return {};
  let url = postgresFor.get(dataDir);
  if (!url) {
    url = await newPostgresDatabase();
    postgresFor.set(dataDir, url);
  }
  return { DATABASE_URL: url };
}

/**
 * `npm start` (scripts/stack.ts) as a real process on free ports and a temporary DATA_DIR; in the
 * postgres project with DATABASE_URL naming a database of its own (unless `env` names one).
 */
export interface NpmStart {
  dataDir: string;
  apiUrl: string;
  /** Everything the stack printed, its children's lines included. */
  output: string[];
  /** The exit code once the stack process has exited. */
  exited: Promise<number | null>;
  state(): StackState | undefined;
  /** Waits until the named process runs with a pid other than `not` (its restart). */
  waitForPid(name: string, not?: number, timeoutMs?: number): Promise<number>;
  /** SIGINT, as a terminal's Ctrl-C, then waits for the exit code. */
  stop(): Promise<number | null>;
  /** Last resort after a failed test: SIGKILL to the stack and every process group it started. */
  kill(): Promise<void>;
}

export async function startNpmStart(
  env: Record<string, string>,
  dataDir = mkdtempSync(join(tmpdir(), 'reqflow-npm-start-')),
): Promise<NpmStart> {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/stack.ts')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: apiUrl,
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      LOG_PRETTY: '0',
      LOG_LEVEL: 'warn',
      // These tests are about processes dying, not about the API shedding load on a busy machine.
      MAX_EVENT_LOOP_DELAY_MS: '0',
      ...(env.DATABASE_URL ? {} : await databaseFor(dataDir)),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) output.push(line);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const file = stackStateFile(dataDir);
  // Only this stack's state: a killed one on the same directory leaves its file behind.
  const state = () => {
    const current = readStackState(file);
    return current?.pid === child.pid ? current : undefined;
  };

  const waitForPid: NpmStart['waitForPid'] = async (name, not, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pid = state()?.processes[name]?.pid;
      if (pid && pid !== not) return pid;
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`${name} did not come up (again); stack output:\n${output.slice(-80).join('\n')}`);
  };

  const started: NpmStart = {
    dataDir,
    apiUrl,
    output,
    exited,
    state,
    waitForPid,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
    async kill() {
      for (const p of Object.values(state()?.processes ?? {})) {
        try {
          if (p.pid) process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  // The agent starts last, once the API is ready.
  await waitForPid('agent');
  return started;
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
