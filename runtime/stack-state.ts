/**
 * What `npm start` tells the processes around it, in `$DATA_DIR/stack.json`: which Temporal
 * server it started (so `npm run temporal` dials the right port) and how often its supervisor
 * restarted each process (served by the API in /metrics). Rewritten whole on every change.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessState {
  /** null while the process is down (between a crash and its restart). */
  pid: number | null;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: string };
}

export interface StackState {
  /** The `npm start` process itself; the file is stale once it is gone. */
  pid: number;
  startedAt: string;
  temporal: {
    address: string;
    /** Whether the stack started (and supervises) that server, or was pointed at one. */
    embedded: boolean;
    uiUrl?: string;
  };
  api: string;
  processes: Record<string, ProcessState>;
}

/** The environment variable through which the stack tells its children where the file is. */
export const STACK_STATE_ENV = 'REQFLOW_STACK_STATE';

/** What a worker started by the stack sends it over IPC when it starts polling. */
export const WORKER_POLLING = 'reqflow:worker-polling';

export function stackStateFile(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

/** Atomic (write, then rename): a reader never sees half a file. */
export function writeStackState(file: string, state: StackState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeStackState(file: string): void {
  rmSync(file, { force: true });
}

/** The state, or undefined when there is no file or it is unreadable. */
export function readStackState(file: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/**
 * Whether the stack that wrote the state still runs (a `kill -9` of it leaves the file behind).
 * Where /proc tells, the pid must still run the stack script, not a process that got it later.
 */
export function stackIsRunning(state: StackState): boolean {
  try {
    process.kill(state.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /stack\.[jt]s/.test(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}
