/** Waits 1s, 2s, 4s, ... up to `maxMs` between tries: quick to notice a restarted API, gentle on a dead one. */
export class Backoff {
  private nextMs: number;

  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 10_000,
  ) {
    this.nextMs = initialMs;
  }

  next(): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return delay;
  }

  reset(): void {
    this.nextMs = this.initialMs;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
