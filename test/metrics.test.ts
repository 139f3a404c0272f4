import { Client, Connection } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { at, insertRequest, step } from './helpers/recorded-requests.js';
import { onPostgres, openTestDatabase } from './helpers/test-database.js';
import type { RequestStep } from '../domain/request.js';
import type { RequestStatus, RequestType } from '../domain/status.js';
import { fulfillmentMetrics, monthRange, stats } from '../metrics/fulfillment.js';
import { loadConfig } from '../runtime/config.js';

// Metrics over a seeded set of requests whose times are known, so every figure is checked
// exactly: the cohort rule (submitted by createdAt, timed by fulfilledAt), the phases
// (approval, device wait and deploying from the job's times, person, the rest) and the
// survey cutoff.

let db: DB;
let app: App;
let temporal: Client;
const S = 1000;
const H = 3_600_000;
const request = (
  id: string,
  createdAt: string,
  status: RequestStatus,
  tookMs: number | null,
  steps: RequestStep[],
  item?: { type: RequestType; catalogItemId: string },
) => insertRequest(db, { id, createdAt, status, tookMs, steps, ...(item ? { item } : {}) });

/** The install job of one attempt, started and finished at these offsets from `base`. */
async function job(requestId: string, attempt: number, base: string, startedMs: number, finishedMs: number) {
  await db.insert(t.deploymentJobs).values({
    id: `JOB-${requestId}-I${attempt}`,
    requestId,
    deviceId: 'LAPTOP-ALICE',
    packageId: 'visio',
    action: 'install',
    attempt,
    state: 'succeeded',
    queuedAt: base,
    startedAt: at(base, startedMs),
    finishedAt: at(base, finishedMs),
  });
}

const d1 = '2026-10-01T00:00:00.000Z';
const d2 = '2026-10-02T00:00:00.000Z';
const d4 = '2026-10-04T00:00:00.000Z';
const sep30 = '2026-09-30T22:00:00.000Z';

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  // Automated: entitlement, then the device starts the job after 30 s and runs it for 29 s.
  await request('REQ-M0001', d1, 'fulfilled', 1 * H, [
    step('check_entitlement', 'automated', d1, 0, 1 * S),
    step('deploy', 'device', d1, 1 * S, 61 * S, 1),
  ]);
  await job('REQ-M0001', 1, d1, 31 * S, 60 * S);
  // Approved after 3 h (an SLA breach on the way); the device waits 10 s, runs 40 s.
  await request('REQ-M0002', d2, 'fulfilled', 4 * H, [
    step('approval_level_1', 'human', d2, 0, 3 * H),
    step('deploy', 'device', d2, 3 * H, 3 * H + 60 * S, 1),
    step('sla_breach', 'automated', d2, 2 * H, 2 * H),
  ]);
  await job('REQ-M0002', 1, d2, 3 * H + 10 * S, 3 * H + 50 * S);
  await request('REQ-M0003', '2026-10-03T00:00:00.000Z', 'rejected', null, []);
  // No job on record: the whole deploy step is waiting for the device.
  await request('REQ-M0004', d4, 'fulfilled', 2 * H, [step('deploy', 'device', d4, 0, 120 * S)]);
  await request('REQ-M0005', '2026-11-05T00:00:00.000Z', 'fulfilled', 9 * H, []);
  // Submitted in September, fulfilled in October: timed in October, not submitted in it.
  await request(
    'REQ-M0006',
    sep30,
    'fulfilled',
    3 * H,
    [
      step('search_knowledge', 'automated', sep30, 0, 1 * S),
      step('service_desk_answer', 'human', sep30, 1 * S, 2 * H),
    ],
    { type: 'information', catalogItemId: 'vpn-address' },
  );
  // Submitted in October, fulfilled in November.
  await request('REQ-M0007', '2026-10-31T20:00:00.000Z', 'fulfilled', 8 * H, []);
  await request('REQ-M0008', '2026-10-31T21:00:00.000Z', 'fulfilling', null, []);
  await db.insert(t.surveyResponses).values([
    { requestId: 'REQ-M0001', respondentId: 'alice', score: 5, createdAt: '2026-10-10T00:00:00.000Z' },
    { requestId: 'REQ-M0002', respondentId: 'alice', score: 2, createdAt: '2026-10-20T00:00:00.000Z' },
    // Given after October: counts neither in October (too late) nor in November (not its cohort).
    { requestId: 'REQ-M0004', respondentId: 'alice', score: 4, createdAt: '2026-11-03T00:00:00.000Z' },
    { requestId: 'REQ-M0006', respondentId: 'alice', score: 3, createdAt: '2026-10-02T00:00:00.000Z' },
  ]);

  const config = loadConfig({
    REQFLOW_DEV_MODE: '1',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
  app = await buildApp({ db, temporal, config, secret: 'metrics-test-secret-metrics-test-secret' });
});

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
});

const october = monthRange('2026-10');
const one = (ms: number) => ({ count: 1, mean: ms, p50: ms, p90: ms, max: ms });

describe('fulfillment metrics', () => {
  it('takes UTC calendar months as half-open ranges', () => {
    expect(october).toEqual({ from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' });
    expect(monthRange('2026-12')).toEqual({
      from: '2026-12-01T00:00:00.000Z',
      to: '2027-01-01T00:00:00.000Z',
    });
    expect(() => monthRange('2026-13')).toThrow('not a month');
  });

  it('uses nearest-rank percentiles and a rounded mean', () => {
    expect(stats([])).toBeNull();
    expect(stats([10, 40, 20, 30, 50, 60, 70, 80, 90, 100, 1])).toEqual({
      count: 11,
      mean: 50,
      p50: 50,
      p90: 90,
      max: 100,
    });
  });

  it('computes every figure per type exactly: fulfilled cohort, phases, steps, SLA, survey', async () => {
    expect(await fulfillmentMetrics(db, { ...october, groupBy: 'type' })).toEqual([
      {
        key: 'information',
        submitted: 0,
        fulfilled: 1,
        fulfillment: one(3 * H),
        phases: {
          approval: null,
          device_wait: null,
          deploying: null,
          person: one(2 * H - 1 * S),
          automated: one(1 * H + 1 * S),
        },
        steps: { search_knowledge: one(1 * S), service_desk_answer: one(2 * H - 1 * S) },
        automationRate: 0,
        sla: { met: 1, breached: 0 },
        survey: { answers: 1, meanScore: 3 },
      },
      {
        key: 'standard_service',
        // M0001-M0004, M0007 and M0008; M0007 is fulfilled in November and timed there.
        submitted: 6,
        fulfilled: 3,
        fulfillment: { count: 3, mean: 8_400_000, p50: 2 * H, p90: 4 * H, max: 4 * H },
        phases: {
          approval: one(3 * H),
          // 30 s, 10 s and 120 s (no job on record: all waiting).
          device_wait: { count: 3, mean: 53_333, p50: 30 * S, p90: 120 * S, max: 120 * S },
          // 29 s and 40 s; M0004's job never started.
          deploying: { count: 2, mean: 34_500, p50: 29 * S, p90: 40 * S, max: 40 * S },
          person: null,
          // 1 h - 59 s, 4 h - 3 h - 50 s, 2 h - 120 s.
          automated: { count: 3, mean: 4_723_667, p50: 3_550_000, p90: 7_080_000, max: 7_080_000 },
        },
        steps: {
          approval: one(3 * H),
          check_entitlement: one(1 * S),
          deploy: { count: 3, mean: 80_000, p50: 60 * S, p90: 120 * S, max: 120 * S },
        },
        automationRate: 2 / 3,
        sla: { met: 2, breached: 1 },
        // M0004's answer came in November.
        survey: { answers: 2, meanScore: 3.5 },
      },
    ]);
  });

  it('times a request in the month it is fulfilled, whenever it was submitted', async () => {
    const [group, ...rest] = await fulfillmentMetrics(db, {
      ...monthRange('2026-11'),
      groupBy: 'catalogItem',
    });
    expect(rest).toEqual([]);
    expect(group).toEqual({
      key: 'visio',
      submitted: 1,
      fulfilled: 2,
      fulfillment: { count: 2, mean: 8.5 * H, p50: 8 * H, p90: 9 * H, max: 9 * H },
      phases: {
        approval: null,
        device_wait: null,
        deploying: null,
        person: null,
        automated: { count: 2, mean: 8.5 * H, p50: 8 * H, p90: 9 * H, max: 9 * H },
      },
      steps: {},
      automationRate: 1,
      sla: { met: 2, breached: 0 },
      survey: { answers: 0, meanScore: null },
    });
  });

  it("counts a failed deployment's wait for an operator's retry as a person's time", async () => {
    const dec = '2026-12-01T00:00:00.000Z';
    // Failed after 10 min, sat failed for 3 h until olga retried, installed 5 min later.
    await request('REQ-M0R01', dec, 'fulfilled', 3 * H + 15 * 60 * S, [
      step('deploy', 'device', dec, 0, 10 * 60 * S, 1),
      step('operator_retry', 'human', dec, 10 * 60 * S, 3 * H + 10 * 60 * S),
      step('deploy', 'device', dec, 3 * H + 10 * 60 * S, 3 * H + 15 * 60 * S, 2),
    ]);
    const [group] = await fulfillmentMetrics(db, { ...monthRange('2026-12'), groupBy: 'catalogItem' });
    expect(group?.automationRate).toBe(0);
    expect(group?.phases.person).toEqual(one(3 * H));
    expect(group?.phases.device_wait).toEqual(one(15 * 60 * S));
    expect(group?.phases.automated).toEqual(one(0));
  });

  it('classifies steps by the kind their workflow gave them, whatever their names', async () => {
    const jan = '2027-01-04T00:00:00.000Z';
    await request('REQ-M0K01', jan, 'fulfilled', 6 * H, [
      // A person's step of a kind of work the metrics never heard of, and a wait on a resource.
      step('legal_review', 'human', jan, 0, 2 * H),
      step('wait_for_license_seat', 'waiting', jan, 2 * H, 3 * H),
      step('operator_decision', 'human', jan, 3 * H, 4 * H),
      step('install_on_kiosk', 'device', jan, 4 * H, 5 * H, 1),
    ]);
    const [group] = await fulfillmentMetrics(db, { ...monthRange('2027-01'), groupBy: 'catalogItem' });
    expect(group?.automationRate).toBe(0);
    expect(group?.phases.person).toEqual(one(2 * H + 1 * H));
    expect(group?.phases.device_wait).toEqual(one(1 * H));
    // The wait for a seat is nobody's work: the rest of the time, with the last hour.
    expect(group?.phases.automated).toEqual(one(2 * H));
  });

  // A SQLite migration for rows stored before steps had a kind; PostgreSQL's schema began with kinds.
  it.skipIf(onPostgres)(
    'backfills the kind of steps stored before steps had one (migration 0015)',
    async () => {
      const stored = [
        { name: 'approval_level_2', state: 'completed', startedAt: d1 },
        { name: 'deploy', state: 'failed', startedAt: d1, attempt: 1 },
        { name: 'wait_for_license_seat', state: 'completed', startedAt: d1 },
        { name: 'check_entitlement', state: 'completed', startedAt: d1 },
        { name: 'delivery', kind: 'human', state: 'completed', startedAt: d1 },
      ];
      const fresh = await openTestDatabase();
      await seed(fresh);
      fresh.$client
        .prepare(
          "insert into requests (id, type, catalog_item_id, requester_id, beneficiary_id, status, steps, fingerprint, created_at, updated_at) values ('REQ-OLD1', 'standard_service', 'visio', 'alice', 'alice', 'fulfilled', ?, '', ?, ?)",
        )
        .run(JSON.stringify(stored), d1, d1);
      fresh.$client.exec(
        readFileSync(new URL('../db/migrations/0015_step_kinds.sql', import.meta.url), 'utf8'),
      );
      const [row] = await fresh.select({ steps: t.requests.steps }).from(t.requests);
      expect(row?.steps.map((x) => [x.name, x.kind, x.state])).toEqual([
        ['approval_level_2', 'human', 'completed'],
        ['deploy', 'device', 'failed'],
        ['wait_for_license_seat', 'waiting', 'completed'],
        ['check_entitlement', 'automated', 'completed'],
        ['delivery', 'human', 'completed'],
      ]);
      expect(row?.steps[1]?.attempt).toBe(1);
    },
  );

  it('counts survey answers given before the end of the period only', async () => {
    const [group] = (
      await fulfillmentMetrics(db, {
        from: d1,
        to: '2026-10-15T00:00:00.000Z',
        groupBy: 'catalogItem',
      })
    ).filter((g) => g.key === 'visio');
    expect(group?.fulfilled).toBe(3);
    expect(group?.survey).toEqual({ answers: 1, meanScore: 5 });
  });

  it('gives the same figures for the same period twice, and groups by catalog item', async () => {
    const a = await fulfillmentMetrics(db, { ...october, groupBy: 'catalogItem' });
    const b = await fulfillmentMetrics(db, { ...october, groupBy: 'catalogItem' });
    expect(a).toEqual(b);
    expect(a.map((g) => [g.key, g.submitted, g.fulfilled])).toEqual([
      ['visio', 6, 3],
      ['vpn-address', 0, 1],
    ]);
  });

  it('serves operators only, over HTTP, by month or by range', async () => {
    const login = async (userId: string) =>
      (await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId } })).json<{
        token: string;
      }>().token;
    const olga = { authorization: `Bearer ${await login('olga')}` };
    const byMonth = await app.inject({
      url: '/api/metrics/fulfillment?month=2026-10&groupBy=catalogItem',
      headers: olga,
    });
    expect(byMonth.statusCode).toBe(200);
    expect(byMonth.json()).toEqual({
      ...october,
      groupBy: 'catalogItem',
      groups: await fulfillmentMetrics(db, { ...october, groupBy: 'catalogItem' }),
    });
    const byRange = await app.inject({
      url: `/api/metrics/fulfillment?from=${october.from}&to=${october.to}`,
      headers: olga,
    });
    expect(byRange.statusCode).toBe(200);
    expect(byRange.json<{ groups: { key: string; fulfilled: number }[] }>().groups).toEqual([
      expect.objectContaining({ key: 'information', fulfilled: 1 }),
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
      headers: olga,
    });
    expect(backwards.statusCode).toBe(422);
    const both = await app.inject({
      url: `/api/metrics/fulfillment?month=2026-10&from=${october.from}`,
      headers: olga,
    });
    expect(both.statusCode).toBe(422);
    expect(both.headers['content-type']).toContain('application/problem+json');
    for (const month of ['2026-13', '2026-1', 'october'])
      expect(
        (await app.inject({ url: `/api/metrics/fulfillment?month=${month}`, headers: olga })).statusCode,
      ).toBe(400);
  });
});
