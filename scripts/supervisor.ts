/**
 * Keeps one child of the embedded stack running: a worker, API, agent or the Temporal dev server
 * that exits without being asked to is started again after an exponential backoff, and one that
 * keeps crashing makes the supervisor give up, so a broken setup stops with a clear message
 * instead of restarting forever.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One started instance of the supervised process. */
export interface Running {
  pid: number | undefined;
  /** Resolves when the process is gone, however it ended. */
  exited: Promise<Exit>;
  /** Asks the process to stop (and makes sure it does); resolves once it has exited. */
  stop(): Promise<void>;
}

export interface RestartPolicy {
  /** Wait before the first restart; doubled for each further crash in a row. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** This many crashes within `windowMs` and the supervisor gives up. */
  maxCrashes: number;
  windowMs: number;
}

/** Five crashes in a minute is a broken setup, not bad luck. */
export const DEFAULT_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  maxCrashes: 5,
  windowMs: 60_000,
};

export interface SupervisorOptions {
  name: string;
  /** Starts an instance; a rejection counts as a crash once the first start has succeeded. */
  start(): Promise<Running>;
  policy?: Partial<RestartPolicy>;
  log(line: string): void;
  /** After every change a reader of the supervisor's state might care about (start, crash, restart). */
  onChange?(): void;
  /** Called once, instead of a restart, when the process crashed too often. */
  onGiveUp(reason: string): void;
  /**
   * Why an exit is final (a restart cannot help, e.g. a revoked credential), or undefined to
   * restart as usual. A final exit is logged and left alone; it does not stop the stack.
   */
  finalExit?(exit: Exit): string | undefined;
}

/** A signal is shown as the exit code a shell reports for it too: `kill -9` is code 137 (SIGKILL). */
export function describeExit(exit: Exit): string {
  if (!exit.signal) return `code ${exit.code}`;
  const number = os.constants.signals[exit.signal] as number | undefined;
  return number === undefined ? `signal ${exit.signal}` : `code ${128 + number} (${exit.signal})`;
}

export class Supervisor {
  readonly name: string;
  /** Restarts so far, for /metrics. */
  restarts = 0;
  lastExit: (Exit & { at: string }) | undefined;
  private readonly policy: RestartPolicy;
  private current: Running | undefined;
  private crashes: number[] = [];
  private stopping = false;
  private readonly stopped = new AbortController();
  private watching: Promise<void> | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    this.name = opts.name;
    this.policy = { ...DEFAULT_POLICY, ...opts.policy };
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Starts the first instance; its failure is the caller's (a stack that cannot start does not retry). */
  async start(): Promise<void> {
    this.current = await this.opts.start();
    this.opts.onChange?.();
    this.watching = this.watch(this.current);
  }

  /** Stops the current instance and any pending restart; the supervisor does nothing afterwards. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.current?.stop();
    await this.watching;
  }

  private async watch(running: Running): Promise<void> {
    let instance = running;
    for (;;) {
      const startedAt = Date.now();
      const exit = await instance.exited;
      if (this.stopping) return;
      this.current = undefined;
      this.lastExit = { ...exit, at: new Date().toISOString() };
      const now = Date.now();
      // A run that lasted a whole window was healthy: its crash starts a new series.
      if (now - startedAt >= this.policy.windowMs) this.crashes = [];
      this.crashes = [...this.crashes.filter((t) => now - t < this.policy.windowMs), now];
      this.opts.onChange?.();
      const final = this.opts.finalExit?.(exit);
      if (final) {
        this.opts.log(`${this.name} exited with ${describeExit(exit)}: ${final}; not restarting it`);
        return;
      }
      const next = await this.restart(exit);
      if (!next) return;
      instance = next;
    }
  }

  /** Waits out the backoff and starts a new instance; undefined when stopped or given up. */
  private async restart(exit: Exit): Promise<Running | undefined> {
    let cause = describeExit(exit);
    for (;;) {
      if (this.crashes.length >= this.policy.maxCrashes) {
        this.opts.onGiveUp(
          `${this.name} crashed ${this.crashes.length} times within ${this.policy.windowMs / 1000} s ` +
            `(last: ${cause}); giving up`,
        );
        return undefined;
      }
      const delay = Math.min(
        this.policy.initialDelayMs * 2 ** (this.crashes.length - 1),
        this.policy.maxDelayMs,
      );
      this.opts.log(
        `${this.name} exited unexpectedly with ${cause}; restart ${this.restarts + 1} in ${formatMs(delay)}`,
      );
      try {
        await sleep(delay, undefined, { signal: this.stopped.signal });
      } catch {
        return undefined; // stopped during the backoff
      }
      this.restarts += 1;
      try {
        const next = await this.opts.start();
        if (this.stopping) {
          await next.stop();
          return undefined;
        }
        this.current = next;
        this.opts.log(`${this.name} restarted (pid ${next.pid ?? 'unknown'})`);
        this.opts.onChange?.();
        return next;
      } catch (err) {
        if (this.stopping) return undefined;
        cause = `a failed start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
        this.crashes = [...this.crashes, Date.now()];
        this.opts.onChange?.();
      }
    }
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}
