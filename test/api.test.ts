import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { ensureDeviceToken } from '../devices/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTestDatabase } from './helpers/test-database.js';

// The API through app.inject, with a real database and a real Temporal server.
// No worker polls this file's task queue: workflows started here just wait, which
// is all the contract checks (validation, auth, idempotency) need.

let app: App;
let db: DB;
let temporal: Client;
let config: Config;
const tokens: Record<string, string> = {};

function makeConfig(devMode: boolean): Config {
  return loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-api-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `api-test-${randomUUID()}`,
    REQFLOW_DEV_MODE: devMode ? '1' : '0',
    REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
    SUBMIT_WAIT_MS: '300',
  });
}

beforeAll(async () => {
  config = makeConfig(true);
  db = await openTestDatabase();
  await seed(db);
  const connection = await Connection.connect({ address: config.temporal.address });
  temporal = new Client({ connection, namespace: config.temporal.namespace });
  app = await buildApp({ db, temporal, config, secret: config.secret! });
  for (const user of ['alice', 'bob', 'carol', 'dave', 'olga']) {
    const res = await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId: user } });
    tokens[user] = res.json<{ token: string }>().token;
  }
});

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
});

const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });
const requestCount = async () => {
  const [row] = await db.select({ n: count() }).from(t.requests);
  return row!.n;
};
const visio = { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE', justification: 'Architecture diagrams' };

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown },
  status: number,
) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json() as { status: number; title: string; detail: string };
  expect(body.status).toBe(status);
  expect(body.detail.length).toBeGreaterThan(5);
  return body;
}

describe('health and docs', () => {
  it('answers liveness and readiness', async () => {
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/ready')).json()).toMatchObject({ status: 'ready' });
  });

  it('publishes every route in the OpenAPI document', async () => {
    const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, unknown> }>();
    for (const path of [
      '/api/catalog/',
      '/api/requests/',
      '/api/requests/{id}',
      '/api/agent/jobs',
      '/api/agent/jobs/{id}/result',
      '/api/cmdb/devices/{id}',
      '/api/dev/login',
      '/api/approvals',
      '/api/requests/{id}/approvals',
      '/api/requests/{id}/cancel',
      '/api/tasks/',
      '/api/tasks/{id}/complete',
      '/api/knowledge/',
      '/api/audit/',
      '/health',
      '/ready',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});

describe('authentication', () => {
  it('refuses a missing or forged token with 401', async () => {
    expectProblem(await app.inject('/api/catalog'), 401);
    expectProblem(await app.inject({ url: '/api/catalog', headers: { authorization: 'Bearer nope' } }), 401);
  });

  it('refuses an unknown user at dev login', async () => {
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId: 'mallory' } }),
      422,
    );
  });

  it('has no dev login outside dev mode', async () => {
    const prod = await buildApp({
      db,
      temporal,
      config: makeConfig(false),
      secret: 'another-secret-another-secret-xx',
    });
    try {
      expectProblem(
        await prod.inject({ method: 'POST', url: '/api/dev/login', payload: { userId: 'alice' } }),
        404,
      );
    } finally {
      await prod.close();
    }
  });
});

describe('catalog', () => {
  it('lists the five seeded types and says what the caller may order', async () => {
    const { items } = (await app.inject({ url: '/api/catalog', headers: as('alice') })).json<{
      items: { id: string; type: string; entitled: boolean }[];
    }>();
    expect(items.map((i) => i.id)).toEqual(
      expect.arrayContaining([
        'vpn-address',
        'financial-reporting',
        'second-monitor',
        'visio',
        'feedback',
        'photoshop',
      ]),
    );
    expect(new Set(items.map((i) => i.type))).toEqual(
      new Set(['information', 'access', 'resource', 'standard_service', 'feedback']),
    );
    expect(items.find((i) => i.id === 'visio')?.entitled).toBe(true);
    const carols = (await app.inject({ url: '/api/catalog', headers: as('carol') })).json<{
      items: { id: string; entitled: boolean }[];
    }>();
    expect(carols.items.find((i) => i.id === 'visio')?.entitled).toBe(false);
  });
});

describe('catalog search, forms and reload', () => {
  const get = (url: string, user = 'alice') => app.inject({ url, headers: as(user) });

  it('searches names, descriptions and aliases, and counts categories', async () => {
    const found = (await get('/api/catalog?q=diagramming')).json<{ items: { id: string }[] }>();
    expect(found.items.map((i) => i.id)).toEqual(['visio']);
    const none = (await get('/api/catalog?q=diagramming%20zebra')).json<{ items: unknown[] }>();
    expect(none.items).toEqual([]);
    const hardware = (await get('/api/catalog?category=Hardware')).json<{
      items: { id: string; category: string }[];
      categories: { name: string; count: number }[];
    }>();
    expect(hardware.items.map((i) => i.id).sort()).toEqual(['laptop', 'new-starter-kit', 'second-monitor']);
    expect(hardware.categories).toEqual(expect.arrayContaining([{ name: 'Hardware', count: 3 }]));
  });

  it('gives one item with its form, approval levels and version; 404 for what does not exist', async () => {
    const item = (await get('/api/catalog/photoshop')).json<Record<string, unknown>>();
    expect(item).toMatchObject({
      id: 'photoshop',
      active: true,
      version: 1,
      formFields: [{ name: 'deviceId', type: 'device', required: true }],
      approvalPolicy: [{ kind: 'group', groupId: 'cab', quorum: 'any' }],
      sla: { request: '3d' },
    });
    expect((await get('/api/catalog/photoshop?version=1')).json()).toEqual(item);
    expectProblem(await get('/api/catalog/photoshop?version=7'), 404);
    expectProblem(await get('/api/catalog/no-such-item'), 404);
  });

  it('reloads for operators only; unchanged files change nothing', async () => {
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/catalog/reload', headers: as('alice') }),
      403,
    );
    const res = await app.inject({ method: 'POST', url: '/api/catalog/reload', headers: as('olga') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ changes: [], summary: 'The catalog is up to date: nothing to change.' });
    // `reload` is no item: GET of it is a 405 that offers POST alone, as the document says.
    const get = await app.inject({ url: '/api/catalog/reload', headers: as('olga') });
    expectProblem(get, 405);
    expect(get.headers.allow).toBe('POST');
    const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, object> }>();
    expect(Object.keys(doc.paths['/api/catalog/reload']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/catalog/{id}']!)).toEqual(['get']);
  });

  it('checks submitted fields against the form, naming the field, and records nothing', async () => {
    await db.insert(t.catalogItems).values({
      id: 'desk-booking',
      name: 'Desk booking',
      type: 'information',
      description: 'A desk for a day (test fixture)',
      formFields: [
        { name: 'day', label: 'Day', type: 'date', required: true },
        { name: 'floor', label: 'Floor', type: 'select', options: ['1', '2'], required: true },
        { name: 'badge', label: 'Badge', type: 'text', required: false, pattern: '[0-9]{6}', maxLength: 6 },
      ],
    });
    const before = await requestCount();
    const submit = (fields: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/api/requests',
        headers: as('alice'),
        payload: { catalogItemId: 'desk-booking', fields },
      });
    for (const [fields, field] of [
      [{ day: '2026-02-30', floor: '1' }, 'day'],
      [{ day: '2026-03-02', floor: '3' }, 'floor'],
      [{ day: '2026-03-02', floor: '1', badge: '12ab56' }, 'badge'],
      [{ floor: '1' }, 'day'],
    ] as const) {
      const body = expectProblem(await submit(fields), 422) as {
        detail: string;
        errors?: { path: string }[];
      };
      expect(body.detail).toContain(`"${field}"`);
      expect(body.errors).toEqual([expect.objectContaining({ path: `body/fields/${field}` })]);
    }
    expect(await requestCount()).toBe(before);
  });
});

describe('POST /api/requests refuses bad input and changes nothing', () => {
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { ...as('alice'), ...headers },
      payload: payload as object,
    });

  it.each([
    ['an unknown field', { ...visio, colour: 'blue' }, 400],
    ['a wrong type', { ...visio, deviceId: 42 }, 400],
    ['a missing catalog item id', { deviceId: 'LAPTOP-ALICE' }, 400],
    ['an unknown catalog item', { ...visio, catalogItemId: 'nope' }, 422],
    ["someone else's device", { ...visio, deviceId: 'LAPTOP-BOB' }, 422],
    ['no device for software', { catalogItemId: 'visio' }, 422],
    ['an unknown beneficiary', { ...visio, onBehalfOf: 'mallory' }, 422],
  ])('%s', async (_name, payload, status) => {
    const before = await requestCount();
    expectProblem(await post(payload), status);
    expect(await requestCount()).toBe(before);
  });

  it('malformed JSON', async () => {
    const before = await requestCount();
    const res = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { ...as('alice'), 'content-type': 'application/json' },
      payload: '{"catalogItemId": "visio",',
    });
    expectProblem(res, 400);
    expect(await requestCount()).toBe(before);
  });

  it('an oversized body', async () => {
    const before = await requestCount();
    // Submissions may carry up to 1 MiB (the form's fields); more is refused before parsing.
    const res = await post({ ...visio, justification: 'x'.repeat(1_100_000) });
    expectProblem(res, 413);
    expect(await requestCount()).toBe(before);
  });

  it('ordering for someone who is not your report', async () => {
    const before = await requestCount();
    const res = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: as('carol'),
      payload: { ...visio, onBehalfOf: 'alice' },
    });
    expectProblem(res, 403);
    expect(await requestCount()).toBe(before);
  });

  it('a bad Idempotency-Key header', async () => {
    expectProblem(await post(visio, { 'idempotency-key': 'x'.repeat(300) }), 400);
  });
});

describe('idempotent submission and visibility', () => {
  it('returns the same request for the same Idempotency-Key, with one workflow', async () => {
    const key = randomUUID();
    const first = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { ...as('alice'), 'idempotency-key': key },
      payload: visio,
    });
    expect(first.statusCode).toBe(202);
    const id = first.json<{ id: string }>().id;
    expect(first.headers.location).toBe(`/api/requests/${id}`);
    const second = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { ...as('alice'), 'idempotency-key': key },
      payload: visio,
    });
    expect(second.statusCode).toBe(202);
    expect(second.json<{ id: string }>().id).toBe(id);
    expect(await db.select().from(t.requests).where(eq(t.requests.id, id))).toHaveLength(1);
    let runs = 0;
    for await (const _ of temporal.workflow.list({ query: `WorkflowId = '${id}'` })) runs++;
    expect(runs).toBe(1);

    const reused = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { ...as('alice'), 'idempotency-key': key },
      payload: { ...visio, justification: 'something else' },
    });
    expectProblem(reused, 422);
    await temporal.workflow.getHandle(id).terminate('test cleanup');
  });

  it('shows a request to its requester and operators, and 404 to anyone else', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: as('alice'),
      payload: visio,
    });
    const view = res.json<{ id: string; status: string; links: { temporalUi: string } }>();
    expect(view.links.temporalUi).toContain(`/workflows/${view.id}`);
    expect((await app.inject({ url: `/api/requests/${view.id}`, headers: as('alice') })).statusCode).toBe(
      200,
    );
    expect((await app.inject({ url: `/api/requests/${view.id}`, headers: as('olga') })).statusCode).toBe(200);
    expectProblem(await app.inject({ url: `/api/requests/${view.id}`, headers: as('carol') }), 404);
    expectProblem(await app.inject({ url: `/api/requests/REQ-DOESNOTEXIST`, headers: as('alice') }), 404);

    const mine = (await app.inject({ url: '/api/requests', headers: as('alice') })).json<{
      items: { id: string }[];
    }>();
    expect(mine.items.map((i) => i.id)).toContain(view.id);
    const carols = (await app.inject({ url: '/api/requests', headers: as('carol') })).json<{
      items: unknown[];
    }>();
    expect(carols.items).toHaveLength(0);
    const all = (await app.inject({ url: '/api/requests?type=standard_service', headers: as('olga') })).json<{
      items: { id: string }[];
    }>();
    expect(all.items.map((i) => i.id)).toContain(view.id);
    expectProblem(await app.inject({ url: '/api/requests?status=bogus', headers: as('olga') }), 400);
    await temporal.workflow.getHandle(view.id).terminate('test cleanup');
  });

  it('refuses feedback without the fields its form requires', async () => {
    const before = await requestCount();
    const res = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: as('alice'),
      payload: { catalogItemId: 'feedback', fields: { service: 'expense system' } },
    });
    expect(expectProblem(res, 422).detail).toContain('message');
    expect(await requestCount()).toBe(before);
  });
});

describe('devices and the CMDB', () => {
  it('gives a device only its own jobs', async () => {
    const aliceToken = await ensureDeviceToken(db, config.dataDir, 'LAPTOP-ALICE');
    const bobToken = await ensureDeviceToken(db, config.dataDir, 'LAPTOP-BOB');
    await db.insert(t.deploymentJobs).values({
      id: 'JOB-X-I1',
      requestId: 'REQ-X',
      deviceId: 'LAPTOP-ALICE',
      packageId: 'visio',
      action: 'install',
      attempt: 1,
      state: 'queued',
    });
    const bobs = await app.inject({
      url: '/api/agent/jobs',
      headers: { authorization: `Bearer ${bobToken}` },
    });
    expect(bobs.json()).toEqual({ jobs: [] });
    const report = await app.inject({
      method: 'POST',
      url: '/api/agent/jobs/JOB-X-I1/result',
      headers: { authorization: `Bearer ${bobToken}` },
      payload: { exitCode: 0, outcome: 'succeeded', output: '' },
    });
    expectProblem(report, 404);
    // One character too many, each written the longest way JSON allows (an escaped surrogate
    // pair, 12 bytes): refused by the schema with the field named, not by the body limit.
    const overlong = await app.inject({
      method: 'POST',
      url: '/api/agent/jobs/JOB-X-I1/result',
      headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
      payload: `{"exitCode":0,"outcome":"succeeded","output":"${'\\ud83d\\ude00'.repeat(65537)}"}`,
    });
    expectProblem(overlong, 400);
    expect(overlong.body).toContain('output');
    const alices = await app.inject({
      url: '/api/agent/jobs',
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    const jobs = alices.json<{ jobs: { id: string; package: { scripts: { install: string } } }[] }>().jobs;
    expect(jobs.map((j) => j.id)).toEqual(['JOB-X-I1']);
    expect(jobs[0]?.package.scripts.install).toContain('Microsoft Visio');
    expectProblem(await app.inject({ url: '/api/agent/jobs', headers: as('alice') }), 401);
  });

  it('shows a device CI to its owner and operators only', async () => {
    const own = await app.inject({ url: '/api/cmdb/devices/LAPTOP-ALICE', headers: as('alice') });
    expect(own.json()).toMatchObject({ id: 'LAPTOP-ALICE', class: 'computer', owner: 'alice' });
    expect(
      (await app.inject({ url: '/api/cmdb/devices/LAPTOP-ALICE', headers: as('olga') })).statusCode,
    ).toBe(200);
    expectProblem(await app.inject({ url: '/api/cmdb/devices/LAPTOP-ALICE', headers: as('bob') }), 404);
  });
});
