/**
 * The API as a careful client uses it while processes die under it: a connection error, a 5xx
 * (the API shutting down, Temporal restarting) or a 429 is retried with a backoff until a
 * deadline; every other answer is final and goes back to the caller.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Answer {
  status: number;
  body: unknown;
}

export class ChaosClient {
  /** Retried calls, by what went wrong: the count the report shows. */
  readonly retries = { connection: 0, status5xx: 0 };
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly apiUrl: string,
    private readonly deadline: () => number,
  ) {}

  async call(method: string, path: string, opts: { as?: string; body?: unknown; key?: string } = {}) {
    const token = opts.as ? await this.token(opts.as) : undefined;
    return this.raw(method, path, {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.key ? { 'idempotency-key': opts.key } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
    });
  }

  private async token(user: string): Promise<string> {
    const known = this.tokens.get(user);
    if (known) return known;
    const res = await this.raw('POST', '/api/dev/login', { body: { userId: user } });
    if (res.status !== 200) throw new Error(`login ${user}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const { token } = res.body as { token: string };
    this.tokens.set(user, token);
    return token;
  }

  private async raw(
    method: string,
    path: string,
    { body, ...headers }: { body?: unknown; authorization?: string; 'idempotency-key'?: string },
  ): Promise<Answer> {
    let wait = 200;
    for (;;) {
      try {
        const res = await fetch(`${this.apiUrl}${path}`, {
          method,
          headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status < 500 && res.status !== 429) {
          return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        }
        this.retries.status5xx++;
      } catch {
        this.retries.connection++;
      }
      if (Date.now() > this.deadline()) throw new Error(`${method} ${path}: no answer before the deadline`);
      await sleep(wait);
      wait = Math.min(wait * 2, 2000);
    }
  }
}
