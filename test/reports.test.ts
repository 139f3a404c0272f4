import { Client, Connection, ScheduleOverlapPolicy, type ScheduleSummary } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { and, eq, like } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { insertRequest } from './helpers/recorded-requests.js';
import { openTestDatabase } from './helpers/test-database.js';
import { recordHistory } from './helpers/histories.js';
import { setUpWorkflowBundle } from './helpers/workflow-bundle.js';
import type { RequestStep } from '../domain/request.js';
import type { RequestType } from '../domain/status.js';
import { fulfillmentMetrics, monthRange } from '../metrics/fulfillment.js';
import { formatDuration, type MonthlyReport } from '../metrics/report.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { ensureMonthlyReportSchedule, monthlyReportScheduleId } from '../runtime/schedules.js';
import { nominalTime, previousMonth, ScheduledStartTimeKey } from '../workflows/monthly-report.js';
import { TypedSearchAttributes } from '@temporalio/common';

// The monthly report end to end on real parts: a Temporal dev server, a worker running the
// real activities over an in-memory database on a task queue of this file, and the API.

let db: DB;
let app: App;
let client: Client;
let native: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;
let config: Config;
let scheduleId: string;

const H = 3_600_000;
const MIN = 60_000;
const fulfilled = (
  id: string,
  createdAt: string,
  tookMs: number,
  item: { type: RequestType; catalogItemId: string },
  steps: RequestStep[] = [],
) => insertRequest(db, { id, createdAt, status: 'fulfilled', tookMs, steps, item });

const visio = { type: 'standard_service', catalogItemId: 'visio' } as const;

beforeAll(async () => {
  const workflowBundle = await setUpWorkflowBundle();
  db = await openTestDatabase();
  await seed(db);
  // Visio's owner becomes bob (olga in the seed), so his message stands apart from olga's (Photoshop).
  await db.update(t.catalogItems).set({ serviceOwnerId: 'bob' }).where(eq(t.catalogItems.id, 'visio'));
  await db.insert(t.groupMembers).values({ groupId: 'auditors', userId: 'carol' });
  // September 2026: Visio takes 3 h and 5 h (mean 4 h against a 1 h goal), the Financial
  // Reporting System 20 h (goal 1 d), VPN access 10 min (no goal), Photoshop nothing.
  await fulfilled('REQ-R0001', '2026-09-02T09:00:00.000Z', 3 * H, visio, [
    {
      name: 'approval_level_1',
      kind: 'human',
      state: 'completed',
      startedAt: '2026-09-02T09:00:00.000Z',
      endedAt: '2026-09-02T11:00:00.000Z',
    },
  ]);
  await fulfilled('REQ-R0002', '2026-09-10T09:00:00.000Z', 5 * H, visio);
  await fulfilled('REQ-R0003', '2026-09-15T08:00:00.000Z', 20 * H, {
    type: 'access',
    catalogItemId: 'financial-reporting',
  });
  await fulfilled('REQ-R0004', '2026-09-20T08:00:00.000Z', 10 * MIN, {
    type: 'access',
    catalogItemId: 'vpn-access',
  });
  // Fulfilled in October: not September's.
  await fulfilled('REQ-R0005', '2026-09-30T23:00:00.000Z', 2 * H, visio);

  const taskQueue = `reports-test-${randomUUID()}`;
  config = loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    REQFLOW_DEV_MODE: '1',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
  scheduleId = monthlyReportScheduleId(taskQueue);
  client = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
  native = await NativeConnection.connect({ address: config.temporal.address });
  worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle,
    activities: createActivities({
      db,
      packagesDirs: [],
      publicUrl: 'http://portal.test',
      linkSecret: 'reports-test-link-secret',
      linkTtlMs: 60_000,
    }),
  });
  // The Temporal worker's run loop, not a query.
  // eslint-disable-next-line no-restricted-syntax
  workerRun = worker.run();
  app = await buildApp({ db, temporal: client, config, secret: 'reports-test-secret-reports-test-secret' });
});

afterAll(async () => {
  await app?.close();
  await client?.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => undefined);
  worker?.shutdown();
  await workerRun;
  await native?.close();
  await client?.connection.close();
});

const login = async (userId: string) => ({
  authorization: `Bearer ${(await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId } })).json<{ token: string }>().token}`,
});

interface ReportView {
  id: string;
  period: string;
  generatedBy: string;
  generatedAt: string;
  workflowId: string;
  fulfilled: number;
  goalsMet: number;
  goalsMissed: number;
  body: MonthlyReport;
}

async function schedulesNamed(id: string): Promise<ScheduleSummary[]> {
  const found: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId === id) found.push(s);
  return found;
}

/** Waits for the report of `period` written by a run whose workflow id starts with `prefix`. */
async function reportBy(period: string, prefix: string) {
  for (let i = 0; i < 150; i++) {
    const [row] = await db
      .select()
      .from(t.reports)
      .where(and(eq(t.reports.period, period), like(t.reports.workflowId, `${prefix}%`)))
      .limit(1);
    if (row) return row;
    await sleep(100);
  }
  throw new Error(`no report for ${period} from ${prefix}`);
}

describe('period arithmetic', () => {
  it('reports on the month before the nominal time, in UTC', () => {
    expect(previousMonth(new Date('2026-10-01T02:00:00Z'))).toBe('2026-09');
    expect(previousMonth(new Date('2027-01-01T02:00:00Z'))).toBe('2026-12');
    expect(previousMonth(new Date('2026-03-31T23:59:59Z'))).toBe('2026-02');
    // 00:30 on 1 December in Berlin is still November in UTC.
    expect(previousMonth(new Date('2026-12-01T00:30:00+01:00'))).toBe('2026-10');
  });

  it('takes the schedule time over the start time', () => {
    const startTime = new Date('2026-11-24T10:00:00Z');
    const scheduled = new Date('2026-08-01T02:00:00Z');
    expect(nominalTime({ startTime, typedSearchAttributes: new TypedSearchAttributes() })).toBe(startTime);
    expect(
      nominalTime({
        startTime,
        typedSearchAttributes: new TypedSearchAttributes([{ key: ScheduledStartTimeKey, value: scheduled }]),
      }),
    ).toEqual(scheduled);
  });

  it('formats durations as people read them', () => {
    expect(
      [4 * H, 3 * H + 30 * MIN, 26 * H, 10 * MIN, 59 * MIN + 50_000, 45_000, 500].map(formatDuration),
    ).toEqual(['4 h', '3 h 30 min', '1 d 2 h', '10 min', '59 min 50 s', '45 s', '500 ms']);
    // 3 h 59 min 40 s rounds up into the next hour.
    expect(formatDuration(4 * H - 20_000)).toBe('4 h');
  });
});

describe('the monthly report schedule', () => {
  it('exists once after two starts, runs on the 1st at 02:00 UTC and starts monthlyReport', async () => {
    await ensureMonthlyReportSchedule(client, config);
    // The worker passes its own connection.
    await ensureMonthlyReportSchedule(native, config);
    let found: ScheduleSummary[] = [];
    for (let i = 0; i < 100 && found.length === 0; i++) {
      found = await schedulesNamed(scheduleId);
      if (found.length === 0) await sleep(100);
    }
    expect(found).toHaveLength(1);

    const d = await client.schedule.getHandle(scheduleId).describe();
    expect(d.spec.calendars).toEqual([
      expect.objectContaining({
        dayOfMonth: [{ start: 1, end: 1, step: 1 }],
        hour: [{ start: 2, end: 2, step: 1 }],
        minute: [{ start: 0, end: 0, step: 1 }],
      }),
    ]);
    expect(d.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'monthlyReport',
      taskQueue: config.temporal.taskQueue,
      workflowId: scheduleId,
      args: [{}],
    });
    expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(d.spec.timezone ?? 'UTC').toBe('UTC');
    // The second start found it as wanted and left it alone.
    expect(d.info.lastUpdatedAt).toBeUndefined();
    expect(d.info.nextActionTimes[0]?.toISOString()).toMatch(/^\d{4}-\d{2}-01T02:00:00\.000Z$/);
  });

  it('puts back a schedule changed by an older version, keeping it paused', async () => {
    const handle = client.schedule.getHandle(scheduleId);
    await handle.update((prev) => ({
      ...prev,
      spec: { calendars: [{ dayOfMonth: 2, hour: 5 }] },
      state: { ...prev.state, paused: true, note: 'paused by an operator' },
    }));
    await ensureMonthlyReportSchedule(client, config);
    const d = await handle.describe();
    expect(d.spec.calendars?.[0]).toMatchObject({
      dayOfMonth: [{ start: 1, end: 1, step: 1 }],
      hour: [{ start: 2, end: 2, step: 1 }],
    });
    expect(d.state).toMatchObject({ paused: true, note: 'paused by an operator' });
    await handle.unpause();
  });

  it('reports on the month before each backfilled slot', async () => {
    await client.schedule.getHandle(scheduleId).backfill({
      start: new Date('2026-07-31T00:00:00Z'),
      end: new Date('2026-09-01T03:00:00Z'),
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    });
    const july = await reportBy('2026-07', scheduleId);
    const august = await reportBy('2026-08', scheduleId);
    expect(july).toMatchObject({
      id: 'RPT-2026-07',
      periodFrom: '2026-07-01T00:00:00.000Z',
      periodTo: '2026-08-01T00:00:00.000Z',
      generatedBy: 'schedule',
      workflowId: `${scheduleId}-2026-08-01T02:00:00Z`,
    });
    expect(august.workflowId).toBe(`${scheduleId}-2026-09-01T02:00:00Z`);
    expect((august.body as MonthlyReport).byType).toEqual([]);
  });
});

describe('reports API', () => {
  it('backfills a past month twice with the same figures, stored once, each owner told once', async () => {
    const olga = await login('olga');
    const post = () =>
      app.inject({ method: 'POST', url: '/api/reports', headers: olga, payload: { period: '2026-09' } });
    const first = await post();
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers.location).toBe('/api/reports/RPT-2026-09');
    const second = await post();
    expect(second.statusCode, second.body).toBe(201);
    await recordHistory(client.workflow.getHandle('report-2026-09'), 'backfilled-by-operator');
    const a = first.json<ReportView>();
    const b = second.json<ReportView>();
    expect(b.body).toEqual(a.body);
    expect({ ...b, generatedAt: undefined }).toEqual({ ...a, generatedAt: undefined });
    expect(a).toMatchObject({
      id: 'RPT-2026-09',
      period: '2026-09',
      generatedBy: 'olga',
      workflowId: 'report-2026-09',
      fulfilled: 4,
      goalsMet: 1,
      goalsMissed: 1,
    });

    const september = monthRange('2026-09');
    expect(a.body).toMatchObject({ period: '2026-09', ...september });
    expect(a.body.byType).toEqual(await fulfillmentMetrics(db, { ...september, groupBy: 'type' }));
    expect(a.body.byCatalogItem).toEqual(
      await fulfillmentMetrics(db, { ...september, groupBy: 'catalogItem' }),
    );
    const visioFigures = a.body.byCatalogItem.find((g) => g.key === 'visio');
    expect(visioFigures).toMatchObject({
      submitted: 3,
      fulfilled: 2,
      fulfillment: { count: 2, mean: 4 * H, p50: 3 * H, p90: 5 * H, max: 5 * H },
      phases: {
        approval: { count: 1, mean: 2 * H, p50: 2 * H, p90: 2 * H, max: 2 * H },
        automated: { count: 2, mean: 3 * H, p50: H, p90: 5 * H, max: 5 * H },
      },
      automationRate: 0.5,
    });

    const byItem = new Map(a.body.comparisons.map((c) => [c.catalogItemId, c]));
    expect(byItem.get('visio')).toEqual({
      catalogItemId: 'visio',
      name: 'Microsoft Visio',
      type: 'standard_service',
      serviceOwnerId: 'bob',
      target: '1h',
      targetMs: H,
      fulfilled: 2,
      meanMs: 4 * H,
      met: false,
      text: 'Microsoft Visio (standard_service): mean 4 h, goal 1 h — 3 h over',
    });
    expect(byItem.get('financial-reporting')?.text).toBe(
      'Financial Reporting System (access): mean 20 h, goal 1 d — met (4 h under)',
    );
    expect(byItem.get('vpn-access')?.text).toBe('VPN access (access): mean 10 min, no goal set');
    expect(byItem.get('photoshop')).toMatchObject({
      met: null,
      meanMs: null,
      text: 'Adobe Photoshop (standard_service): nothing fulfilled, goal 1 d',
    });

    const list = await app.inject({ url: '/api/reports', headers: olga });
    expect(list.statusCode).toBe(200);
    const items = list.json<{ items: { id: string }[] }>().items;
    expect(items.filter((r) => r.id === 'RPT-2026-09')).toHaveLength(1);
    const ids = items.map((r) => r.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(items.find((r) => r.id === 'RPT-2026-09')).toEqual({ ...b, body: undefined });

    const one = await app.inject({ url: '/api/reports/RPT-2026-09', headers: olga });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual(b);

    const notes = await db
      .select()
      .from(t.notifications)
      .where(like(t.notifications.key, 'report:2026-09:%'))
      .orderBy(t.notifications.key);
    expect(notes.map((n) => [n.key, n.recipientId])).toEqual([
      ['report:2026-09:bob', 'bob'],
      ['report:2026-09:dave', 'dave'],
      ['report:2026-09:erin', 'erin'],
      ['report:2026-09:olga', 'olga'],
    ]);
    const bob = notes[0]!;
    expect(bob.subject).toBe('Fulfillment report 2026-09: 1 of your items missed their goal');
    expect(bob.body).toBe('Microsoft Visio (standard_service): mean 4 h, goal 1 h — 3 h over');
    expect(bob.links).toEqual({ report: 'http://portal.test/api/reports/RPT-2026-09' });
  });

  it('appears in the OpenAPI document', async () => {
    const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(Object.keys(doc.paths['/api/reports/'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/reports/{id}'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/metrics/fulfillment'] ?? {})).toEqual(['get']);
  });

  it('lets operators, auditors and service owners read, and only operators backfill', async () => {
    const alice = await login('alice');
    const erin = await login('erin'); // owns the Financial Reporting System
    const carol = await login('carol'); // an auditor here
    for (const headers of [erin, carol]) {
      expect((await app.inject({ url: '/api/reports', headers })).statusCode).toBe(200);
    }
    expect((await app.inject({ url: '/api/reports', headers: alice })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/reports/RPT-2026-09', headers: alice })).statusCode).toBe(403);
    const posted = await app.inject({
      method: 'POST',
      url: '/api/reports',
      headers: erin,
      payload: { period: '2026-08' },
    });
    expect(posted.statusCode).toBe(403);
    expect(posted.headers['content-type']).toContain('application/problem+json');
    expect((await app.inject({ url: '/api/reports', headers: {} })).statusCode).toBe(401);
  });

  it('refuses a month that is not over, a malformed one, and names an unknown report', async () => {
    const olga = await login('olga');
    const now = new Date();
    const month = (d: Date) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    const post = (period: string) =>
      app.inject({ method: 'POST', url: '/api/reports', headers: olga, payload: { period } });
    const current = await post(month(now));
    expect(current.statusCode).toBe(422);
    expect(current.json<{ detail: string }>().detail).toContain('not over yet');
    expect((await post(month(new Date(Date.UTC(now.getUTCFullYear() + 1, 0, 1))))).statusCode).toBe(422);
    for (const period of ['2026-13', '2026-9', 'last month'])
      expect((await post(period)).statusCode).toBe(400);
    const unknown = await app.inject({ url: '/api/reports/RPT-1999-01', headers: olga });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ detail: string }>().detail).toBe('Report RPT-1999-01 not found.');
  });
});
