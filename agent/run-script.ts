import { spawn } from 'node:child_process';

/** Output kept per script while it runs: far more than any tail we report, yet bounded for chatty installers. */
const KEEP_CHARS = 64 * 1024;
/** Between SIGTERM and SIGKILL: lets an installer remove its half-written files before it is killed. */
const KILL_GRACE_MS = 2000;
/** After the script exits, how long to wait for background children that still hold its output pipes. */
const DRAIN_MS = 1000;

export interface ScriptOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Aborting stops the script the way a timeout does (used when the agent is forced to quit). */
  signal?: AbortSignal;
  /** Told the script's process group id as soon as it runs (the agent journals it). */
  onSpawn?: (pgid: number) => void;
}

export interface ScriptRun {
  /** null when the script did not exit on its own (killed, timed out, or never started). */
  exitCode: number | null;
  killedBy: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** Combined stdout and stderr, at most the last KEEP_CHARS characters. */
  output: string;
  durationMs: number;
}

/** Keeps the end of a stream of text without holding all of it. */
class OutputTail {
  private text = '';

  constructor(private readonly limit: number) {}

  push(chunk: string): void {
    this.text += chunk;
    // Trim in batches rather than on every chunk, so a chatty script does not cost a copy per line.
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }

  toString(): string {
    return this.text.slice(-this.limit);
  }
}

/**
 * Runs `/bin/sh scriptPath` in its own process group so that a timeout kills
 * everything the script started, not just the shell. Never rejects: a script
 * that cannot start is reported as a run without an exit code.
 */
export function runScript(scriptPath: string, options: ScriptOptions): Promise<ScriptRun> {
  const started = Date.now();
  const tail = new OutputTail(KEEP_CHARS);
  let timedOut = false;
  let aborted = false;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let done = false;

  return new Promise((resolve) => {
    const child = spawn('/bin/sh', [scriptPath], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: every process of the group has already exited.
      }
    };
    const stop = () => {
      if (stopping) return;
      stopping = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const onAbort = () => {
      aborted = true;
      stop();
    };

    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      // Keep consuming after we resolve: a service the script left running must not block on a full pipe.
      stream.on('data', (chunk: string) => {
        if (!done) tail.push(chunk);
      });
    }

    const finish = (exitCode: number | null, killedBy: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(timeoutTimer);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (stopping) {
        // A stopped script leaves nothing behind, even a child that ignored SIGTERM and closed its pipes.
        clearTimeout(killTimer);
        killGroup('SIGKILL');
      }
      resolve({
        exitCode: stopping ? null : exitCode,
        killedBy,
        timedOut,
        aborted,
        output: tail.toString(),
        durationMs: Date.now() - started,
      });
    };

    child.on('error', (err) => {
      tail.push(`agent: could not run ${scriptPath}: ${err.message}\n`);
      finish(null, null);
    });
    child.on('exit', (code, signal) => {
      // The time limit is for the script; once it has exited it has not timed out.
      if (!stopping) clearTimeout(timeoutTimer);
      child.on('close', () => finish(code, signal));
      // 'close' waits for every holder of the pipes; a backgrounded child may hold them for ever.
      drainTimer = setTimeout(() => finish(code, signal), stopping ? KILL_GRACE_MS + DRAIN_MS : DRAIN_MS);
    });
  });
}
