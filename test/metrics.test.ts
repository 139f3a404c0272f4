import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import { openMemoryDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import type { RequestStep } from '../domain/request.js';
import { fulfillmentMetrics } from '../metrics/fulfillment.js';
import { loadConfig } from '../runtime/config.js';

// Metrics over a seeded set of requests whose times are known, so every figure is checked exactly.

let db: DB;
let app: App;
let temporal: Client;
const H = 3_600_000;
const at = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();
const step = (name: string, base: string, from: number, to: number): RequestStep => ({
  name,
  state: 'completed',
  startedAt: at(base, from),
  endedAt: at(base, to),
});

function request(
  id: string,
  createdAt: string,
  status: 'fulfilled' | 'rejected',
  tookMs: number | null,
  steps: RequestStep[],
) {
  db.insert(t.requests)
    .values({
      id,
      type: 'standard_service',
      catalogItemId: 'visio',
      requesterId: 'alice',
      beneficiaryId: 'alice',
      status,
      steps,
      fingerprint: '',
      createdAt,
      updatedAt: createdAt,
      fulfilledAt: tookMs === null ? null : at(createdAt, tookMs),
    })
    .run();
}

beforeAll(async () => {
  db = openMemoryDatabase();
  seed(db);
  const d1 = '2026-10-01T00:00:00.000Z';
  const d2 = '2026-10-02T00:00:00.000Z';
  const d4 = '2026-10-04T00:00:00.000Z';
  request('REQ-M0001', d1, 'fulfilled', 1 * H, [
    step('check_entitlement', d1, 0, 1000),
    step('deploy', d1, 1000, 61_000),
  ]);
  request('REQ-M0002', d2, 'fulfilled', 4 * H, [
    step('approval_level_1', d2, 0, 3 * H),
    step('deploy', d2, 3 * H, 3 * H + 60_000),
    step('sla_breach', d2, 2 * H, 2 * H),
  ]);
  request('REQ-M0003', '2026-10-03T00:00:00.000Z', 'rejected', null, []);
  request('REQ-M0004', d4, 'fulfilled', 2 * H, [step('deploy', d4, 0, 120_000)]);
  request('REQ-M0005', '2026-11-05T00:00:00.000Z', 'fulfilled', 9 * H, []);
  db.insert(t.surveyResponses)
    .values([
      { requestId: 'REQ-M0001', respondentId: 'alice', score: 5 },
      { requestId: 'REQ-M0002', respondentId: 'alice', score: 2 },
    ])
    .run();

  const config = loadConfig({ REQFLOW_DEV_MODE: '1', TEMPORAL_ADDRESS: inject('temporalAddress') });
  temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
  app = await buildApp({ db, temporal, config, secret: 'metrics-test-secret-metrics-test-secret' });
});

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
});

const october = { from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' };

describe('fulfillment metrics', () => {
  it('computes count, mean, p50, p90 and max per type and per step, exactly', () => {
    const [group, ...rest] = fulfillmentMetrics(db, { ...october, groupBy: 'type' });
    expect(rest).toEqual([]);
    expect(group).toEqual({
      key: 'standard_service',
      submitted: 4,
      fulfilled: 3,
      fulfillment: { count: 3, mean: 8_400_000, p50: 7_200_000, p90: 14_400_000, max: 14_400_000 },
      steps: {
        approval: { count: 1, mean: 10_800_000, p50: 10_800_000, p90: 10_800_000, max: 10_800_000 },
        check_entitlement: { count: 1, mean: 1000, p50: 1000, p90: 1000, max: 1000 },
        deploy: { count: 3, mean: 80_000, p50: 60_000, p90: 120_000, max: 120_000 },
      },
      automationRate: 2 / 3,
      sla: { met: 2, breached: 1 },
      survey: { answers: 2, meanScore: 3.5 },
    });
  });

  it('gives the same figures for the same period twice, and groups by catalog item', () => {
    const a = fulfillmentMetrics(db, { ...october, groupBy: 'catalogItem' });
    const b = fulfillmentMetrics(db, { ...october, groupBy: 'catalogItem' });
    expect(a).toEqual(b);
    expect(a.map((g) => g.key)).toEqual(['visio']);
  });

  it('serves operators only, over HTTP', async () => {
    const login = async (userId: string) =>
      (await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId } })).json<{
        token: string;
      }>().token;
    const olga = await login('olga');
    const res = await app.inject({
      url: `/api/metrics/fulfillment?from=${october.from}&to=${october.to}`,
      headers: { authorization: `Bearer ${olga}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ groups: { key: string; fulfilled: number }[] }>().groups).toEqual([
      expect.objectContaining({ key: 'standard_service', fulfilled: 3 }),
    ]);
    const alice = await login('alice');
    const denied = await app.inject({
      url: '/api/metrics/fulfillment',
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(denied.statusCode).toBe(403);
    const backwards = await app.inject({
      url: `/api/metrics/fulfillment?from=${october.to}&to=${october.from}`,
      headers: { authorization: `Bearer ${olga}` },
    });
    expect(backwards.statusCode).toBe(422);
  });
});
