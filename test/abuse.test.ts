import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import { seed } from '../db/seed.js';
import { ensureDeviceToken } from '../devices/index.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { openTestDatabase } from './helpers/test-database.js';

// Abuse resistance and the served contract, through app.inject on a real database and a
// real Temporal server. Each app gets the limits its test needs (they are configuration).

type Res = Awaited<ReturnType<App['inject']>>;

const apps: { app: App; temporal: Client }[] = [];
let temporalAddress: string;

function configWith(env: Record<string, string> = {}): Config {
  return loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-abuse-')),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: `abuse-test-${randomUUID()}`,
    REQFLOW_DEV_MODE: '1',
    REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
    ...env,
  });
}

async function start(env: Record<string, string> = {}): Promise<{ app: App; db: DB; config: Config }> {
  const config = configWith(env);
  const db = await openTestDatabase();
  await seed(db);
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = await buildApp({ db, temporal, config, secret: config.secret! });
  apps.push({ app, temporal });
  return { app, db, config };
}

async function login(app: App, userId: string, remoteAddress = '127.0.0.1'): Promise<Res> {
  return app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId }, remoteAddress });
}

async function tokenOf(app: App, userId: string): Promise<string> {
  const res = await login(app, userId);
  expect(res.statusCode).toBe(200);
  return res.json<{ token: string }>().token;
}

function expectProblem(res: Res, status: number) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json<{ status: number; detail: string }>();
  expect(body.status).toBe(status);
  return body;
}

function expectTooMany(res: Res) {
  const body = expectProblem(res, 429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  return body;
}

beforeAll(() => {
  temporalAddress = inject('temporalAddress');
});

afterAll(async () => {
  for (const { app, temporal } of apps) {
    await app.close();
    await temporal.connection.close();
  }
});

describe('load shedding', () => {
  it('answers 503 problem+json with Retry-After while the event loop stays behind', async () => {
    // The other tests turn shedding off (a loaded CI machine lags them); here it is the subject.
    const { app } = await start({ MAX_EVENT_LOOP_DELAY_MS: '20' });
    const deadline = Date.now() + 30_000;
    let res = await app.inject({ url: '/api/catalog' });
    while (res.statusCode !== 503 && Date.now() < deadline) {
      // Keep the loop behind on purpose: 200 ms blocked out of every ~200 ms, far above 20 ms.
      const until = Date.now() + 200;
      while (Date.now() < until);
      await new Promise((resolve) => setImmediate(resolve));
      res = await app.inject({ url: '/api/catalog' });
    }
    expectProblem(res, 503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

describe('rate limits', () => {
  it('the defaults let a person clear an inbox of a hundred and more without meeting a limit', async () => {
    // The rate limits' defaults; load shedding (a 503 while this loaded process lags) is another matter.
    const { app } = await start({ MAX_EVENT_LOOP_DELAY_MS: '0' });
    const auth = { authorization: `Bearer ${await tokenOf(app, 'bob')}` };
    for (let i = 0; i < 300; i++) {
      const res = await app.inject({ url: i % 2 ? '/api/approvals' : '/api/requests', headers: auth });
      expect(res.statusCode).toBe(200);
    }
  });

  it('sign-in is limited per address with a 429 problem and Retry-After', async () => {
    const { app } = await start({ RATE_LIMIT_LOGIN: '3' });
    for (let i = 0; i < 3; i++) expect((await login(app, 'alice')).statusCode).toBe(200);
    const refused = expectTooMany(await login(app, 'alice'));
    expect(refused.detail).toMatch(/sign-ins/);
    // Another address has a counter of its own.
    expect((await login(app, 'alice', '10.0.0.7')).statusCode).toBe(200);
  });

  it('every authenticated route is limited per user, not for everyone behind the same address', async () => {
    const { app } = await start({ RATE_LIMIT_PER_USER: '5' });
    const alice = { authorization: `Bearer ${await tokenOf(app, 'alice')}` };
    const bob = { authorization: `Bearer ${await tokenOf(app, 'bob')}` };
    for (let i = 0; i < 5; i++)
      expect((await app.inject({ url: '/api/catalog', headers: alice })).statusCode).toBe(200);
    expectTooMany(await app.inject({ url: '/api/catalog', headers: alice }));
    expect((await app.inject({ url: '/api/catalog', headers: bob })).statusCode).toBe(200);
  });

  it('every route is limited per address, health probes excepted', async () => {
    const { app } = await start({ RATE_LIMIT_PER_IP: '4' });
    for (let i = 0; i < 4; i++) expect((await app.inject({ url: '/docs/json' })).statusCode).toBe(200);
    expectTooMany(await app.inject({ url: '/docs/json' }));
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/docs/json', remoteAddress: '10.0.0.8' })).statusCode).toBe(200);
  });

  it('approve/deny link and survey pages share a tight limit per address', async () => {
    const { app } = await start({ RATE_LIMIT_LINKS: '2' });
    expect((await app.inject({ url: '/approvals/links/not-a-real-token' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/surveys/REQ-0000?t=nope' })).statusCode).toBeLessThan(429);
    expectTooMany(await app.inject({ url: '/approvals/links/not-a-real-token' }));
  });

  it('submitting and commenting are limited per user', async () => {
    const { app } = await start({ RATE_LIMIT_SUBMIT: '2', RATE_LIMIT_COMMENTS: '1' });
    const auth = { authorization: `Bearer ${await tokenOf(app, 'alice')}` };
    const submit = () =>
      app.inject({ method: 'POST', url: '/api/requests', headers: auth, payload: { catalogItemId: 'nope' } });
    expect((await submit()).statusCode).toBe(422);
    expect((await submit()).statusCode).toBe(422);
    expect(expectTooMany(await submit()).detail).toMatch(/submitted requests/);
    const comment = () =>
      app.inject({
        method: 'POST',
        url: '/api/requests/REQ-0000/comments',
        headers: auth,
        payload: { body: 'hello' },
      });
    expect((await comment()).statusCode).toBe(404);
    expectTooMany(await comment());
  });
});

describe('security headers', () => {
  it('helmet headers on every response, and a CSP without scripts on the HTML pages', async () => {
    const { app } = await start();
    for (const url of ['/health', '/api/catalog', '/approvals/links/not-a-real-token']) {
      const res = await app.inject({ url });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toBeDefined();
    }
    const page = await app.inject({ url: '/approvals/links/not-a-real-token' });
    expect(page.headers['content-type']).toContain('text/html');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain('script-src');
    // Swagger UI needs its own scripts and sets its own policy.
    const docs = await app.inject({ url: '/docs/' });
    expect(String(docs.headers['content-security-policy'])).toContain("script-src 'self'");
  });
});

describe('paging and bounds', () => {
  it('offsets and limits are bounded: a huge offset is a 400, not a 500', async () => {
    const { app } = await start();
    const auth = { authorization: `Bearer ${await tokenOf(app, 'olga')}` };
    for (const url of [
      '/api/requests?offset=99999999999999999999',
      '/api/audit?offset=1e30',
      '/api/reports?offset=9007199254740993',
      '/api/tasks?offset=10000001',
      '/api/devices?limit=100000',
      '/api/approvals?limit=0',
      '/api/requests?offset=true',
      '/api/audit?limit=ten',
    ]) {
      expectProblem(await app.inject({ url, headers: auth }), 400);
    }
    const page = await app.inject({ url: '/api/audit?limit=2&offset=1', headers: auth });
    expect(page.statusCode).toBe(200);
    expect(page.json<{ items: { seq: number }[] }>().items.map((e) => e.seq)).toEqual([2, 3]);
    const devices = await app.inject({ url: '/api/devices?limit=1&offset=1', headers: auth });
    expect(devices.json<{ items: unknown[] }>().items).toHaveLength(1);
  });

  it('a newer long poll of a device supersedes the older one, which answers at once with no jobs', async () => {
    const { app, db, config } = await start();
    const device = { authorization: `Bearer ${await ensureDeviceToken(db, config.dataDir, 'LAPTOP-ALICE')}` };
    const order: string[] = [];
    const first = app.inject({ url: '/api/agent/jobs?waitSeconds=20', headers: device }).then((r) => {
      order.push('first');
      return r;
    });
    // Let the first poll start waiting before the second arrives.
    await new Promise((r) => setTimeout(r, 500));
    const second = app.inject({ url: '/api/agent/jobs?waitSeconds=2', headers: device }).then((r) => {
      order.push('second');
      return r;
    });
    const [a, b] = await Promise.all([first, second]);
    expect(a.json()).toEqual({ jobs: [] });
    expect(b.json()).toEqual({ jobs: [] });
    // Without the supersession the first would have waited its 20 s, long after the second.
    expect(order).toEqual(['first', 'second']);
  });
});

describe('the served OpenAPI document', () => {
  interface Op {
    requestBody?: { content: Record<string, { schema: unknown }> };
    responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
  }

  it('has no schema OpenAPI does not know, errors as problem+json, and 429/503 everywhere', async () => {
    const { app } = await start();
    const res = await app.inject({ url: '/docs/json' });
    expect(res.body).not.toContain('"type":"undefined"');
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, Op>> }>();
    expect(doc.openapi).toMatch(/^3\./);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.responses['503'], where).toBeDefined();
        if (path !== '/health' && path !== '/ready') {
          expect(op.responses['429'], where).toBeDefined();
          expect(op.responses['429']!.headers, where).toHaveProperty('Retry-After');
        }
        for (const [code, response] of Object.entries(op.responses)) {
          if (Number(code) < 400 || !response.content) continue;
          const types = Object.keys(response.content);
          expect(types, `${where} ${code}`).not.toContain('application/json');
          expect(
            types.some((t) => ['application/problem+json', 'application/scim+json', 'text/html'].includes(t)),
            `${where} ${code}`,
          ).toBe(true);
        }
      }
    }
    // The form posts of the pages may come without a body.
    expect(doc.paths['/approvals/links/{token}']!.post!.requestBody).toMatchObject({ required: false });
  });

  it('a known path asked with a method it does not have answers 405 with Allow', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'DELETE', url: '/api/catalog' });
    expectProblem(res, 405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expectProblem(await app.inject({ method: 'PATCH', url: '/api/requests/REQ-0000' }), 405);
    expectProblem(await app.inject({ method: 'GET', url: '/api/nothing-here' }), 404);
  });
});
