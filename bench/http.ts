/**
 * The API as the benchmark's people use it: dev login once per person, then JSON calls with
 * their bearer token. Any answer other than the expected status is a broken harness, not a
 * slow one, and throws with the body.
 */
export class BenchClient {
  private readonly tokens = new Map<string, string>();

  constructor(readonly apiUrl: string) {}

  async token(userId: string): Promise<string> {
    const known = this.tokens.get(userId);
    if (known) return known;
    const { token } = await this.json<{ token: string }>('POST', '/api/dev/login', {
      body: { userId },
      expect: 200,
    });
    this.tokens.set(userId, token);
    return token;
  }

  async json<T>(
    method: string,
    path: string,
    opts: { as?: string; body?: unknown; expect: number | number[] },
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.as) headers.authorization = `Bearer ${await this.token(opts.as)}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    const expected = Array.isArray(opts.expect) ? opts.expect : [opts.expect];
    if (!expected.includes(res.status)) {
      throw new Error(
        `${method} ${path}${opts.as ? ` as ${opts.as}` : ''}: HTTP ${res.status} ${text.slice(0, 500)}`,
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** The fields of `GET /api/requests/:id` the benchmarks read. */
export interface RequestView {
  id: string;
  status: string;
  createdAt: string;
  fulfilledAt: string | null;
}
