/**
 * The API as a careful client uses it while processes die under it: a connection error, a 5xx
 * (the API shutting down, Temporal restarting) or a 429 is retried with a backoff until a
 * deadline; every other answer is final and goes back to the caller. Given several API nodes,
 * calls take turns among them, and a call whose node refuses it is retried on the next one
 * at once, as a load balancer does.
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

  private readonly apiUrls: string[];
  private turn = 0;
  /** Calls answered, by node. */
  readonly answeredBy: Record<string, number> = {};

  constructor(
    apiUrl: string | string[],
    private readonly deadline: () => number,
  ) {
    this.apiUrls = typeof apiUrl === 'string' ? [apiUrl] : apiUrl;
  }

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
    let node = this.turn++ % this.apiUrls.length;
    let last = '';
    for (let attempt = 1; ; attempt++) {
      const apiUrl = this.apiUrls[node]!;
      try {
        const res = await fetch(`${apiUrl}${path}`, {
          method,
          headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status < 500 && res.status !== 429) {
          this.answeredBy[apiUrl] = (this.answeredBy[apiUrl] ?? 0) + 1;
          return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        }
        this.retries.status5xx++;
        last = `HTTP ${res.status} ${text.slice(0, 200)}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
        this.retries.connection++;
        // Another node may answer at once; every node has been tried: back off before the next round.
        node = (node + 1) % this.apiUrls.length;
        if (attempt % this.apiUrls.length !== 0) continue;
      }
      if (Date.now() > this.deadline()) {
        throw new Error(`${method} ${path}: no answer before the deadline (last: ${last})`);
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 2000);
    }
  }
}
