import { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';
import { openTestDatabase } from './helpers/test-database.js';
import { eventually } from './helpers/eventually.js';

// GET /metrics after real traffic: worker, API and device agent as separate processes
// sharing one database (a SQLite file or PostgreSQL), so the table-derived series prove they see the workers' writes.

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => {
      const m = /^[^{\s]+(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const pairs = [...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1]!, p[2]!]);
      return { labels: Object.fromEntries(pairs) as Record<string, string>, value: Number(m[2]) };
    })
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

describe('GET /metrics on the real stack', () => {
  let stack: TestStack;
  let text: string;
  const open: string[] = [];

  beforeAll(async () => {
    stack = await startStack(inject('temporalAddress'));
    stack.startAgent('LAPTOP-ALICE');
    const [alice, bob, carol, dave] = await Promise.all(
      ['alice', 'bob', 'carol', 'dave'].map((u) => stack.login(u)),
    );

    const visio = await stack.submit(alice!, { catalogItemId: 'visio', deviceId: 'LAPTOP-ALICE' });
    expect((await stack.waitForRequest(alice!, visio.id, ended)).status).toBe('fulfilled');
    // The API signals the workflow before it records the job's result (so that a failed write
    // is retried by the agent): the request may be fulfilled a moment before the job row says so.
    const allSucceeded = (jobs: { state: string }[]) => jobs.every((j) => j.state === 'succeeded');
    const jobs = await eventually(
      () => stack.db.select().from(t.deploymentJobs).where(eq(t.deploymentJobs.requestId, visio.id)),
      allSucceeded,
      45_000,
    );
    expect(allSucceeded(jobs), `the jobs of ${visio.id} never all succeeded: ${JSON.stringify(jobs)}`).toBe(
      true,
    );
    // Carol's role is not entitled to Visio; waiting on the GET (the projection) rather than
    // the POST answer (the workflow's) makes sure the scrape sees it.
    const refused = await stack.submit(carol!, { catalogItemId: 'visio', deviceId: 'LAPTOP-CAROL' });
    expect((await stack.waitForRequest(carol!, refused.id, ended)).status).toBe('rejected');
    // A monitor waits for Bob's approval; a question no article answers waits on the service desk.
    const monitor = await stack.submit(alice!, { catalogItemId: 'second-monitor', justification: 'Reviews' });
    const question = await stack.submit(alice!, {
      catalogItemId: 'vpn-address',
      fields: { question: 'Can I bring my own sourdough starter to the office fridge?' },
    });
    open.push(monitor.id, question.id);
    await waitFor(bob!, '/api/approvals', monitor.id);
    await waitFor(dave!, `/api/tasks?requestId=${question.id}`, question.id);
    expect((await stack.call('GET', '/no/such/route/42')).status).toBe(404);

    const res = await fetch(`${stack.apiUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    text = await res.text();

    async function waitFor(token: string, path: string, requestId: string) {
      const deadline = Date.now() + 30_000;
      while (!JSON.stringify((await stack.call('GET', path, { token })).body).includes(requestId)) {
        if (Date.now() > deadline) throw new Error(`${requestId} never showed in ${path}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  });

  afterAll(async () => {
    for (const id of open)
      await stack?.temporal.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => {});
    await stack?.stop();
  });

  it('counts requests started and finished by type, item and outcome', () => {
    const started = 'reqflow_requests_started_total';
    expect(sample(text, started, { type: 'standard_service', catalog_item: 'visio' })).toBe(2);
    expect(sample(text, started, { type: 'resource', catalog_item: 'second-monitor' })).toBe(1);
    expect(sample(text, started, { type: 'information', catalog_item: 'vpn-address' })).toBe(1);
    const finished = 'reqflow_requests_finished_total';
    expect(sample(text, finished, { type: 'standard_service', outcome: 'fulfilled' })).toBe(1);
    expect(sample(text, finished, { type: 'standard_service', outcome: 'rejected' })).toBe(1);
    expect(sample(text, finished, { type: 'resource' })).toBeUndefined();
    expect(text).toContain('# TYPE reqflow_requests_finished_total counter');
  });

  it('has a histogram of finished step durations', () => {
    const deploy = { type: 'standard_service', step: 'deploy' };
    expect(sample(text, 'reqflow_step_duration_seconds_count', deploy)).toBe(1);
    expect(sample(text, 'reqflow_step_duration_seconds_bucket', { ...deploy, le: '+Inf' })).toBe(1);
    expect(sample(text, 'reqflow_step_duration_seconds_sum', deploy)).toBeGreaterThan(0);
    // Both Visio requests checked entitlement (one passed, one failed); both steps ended.
    expect(
      sample(text, 'reqflow_step_duration_seconds_count', {
        type: 'standard_service',
        step: 'check_entitlement',
      }),
    ).toBe(2);
    // The approval the monitor waits for has not ended, so it is not observed yet.
    expect(sample(text, 'reqflow_step_duration_seconds_count', { type: 'resource', step: 'approval' })).toBe(
      undefined,
    );
    expect(text).toContain('# TYPE reqflow_step_duration_seconds histogram');
  });

  it('measures API latency by route pattern, never by raw URL', () => {
    const http = 'reqflow_http_request_duration_seconds_count';
    expect(sample(text, http, { method: 'POST', route: '/api/requests', status_code: '202' })).toBe(4);
    expect(
      sample(text, http, { method: 'GET', route: '/api/requests/:id', status_code: '200' }),
    ).toBeGreaterThan(0);
    expect(sample(text, http, { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(text).not.toContain('/no/such/route');
    expect(text).not.toMatch(/route="[^"]*REQ-/);
  });

  it('counts agent jobs by action and result', () => {
    expect(sample(text, 'reqflow_agent_jobs_total', { action: 'install', result: 'succeeded' })).toBe(1);
  });

  it('shows open tasks per group and pending approvals per request type', () => {
    expect(sample(text, 'reqflow_open_tasks', { group: 'service-desk' })).toBe(1);
    expect(sample(text, 'reqflow_open_tasks', { group: 'procurement' })).toBe(0);
    expect(sample(text, 'reqflow_pending_approvals', { type: 'resource' })).toBe(1);
    expect(sample(text, 'reqflow_pending_approvals', { type: 'access' })).toBe(0);
  });

  it("includes the API process's own metrics", () => {
    expect(sample(text, 'reqflow_api_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('reqflow_api_nodejs_eventloop_lag_seconds');
  });
});

describe('GET /metrics through app.inject', () => {
  let app: App;
  let temporal: Client;
  let db: DB;
  const TOKEN = 'scrape-token-for-tests';

  beforeAll(async () => {
    db = await openTestDatabase();
    await seed(db);
    const config = loadConfig({
      // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
      MAX_EVENT_LOOP_DELAY_MS: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-prom-')),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `prom-test-${randomUUID()}`,
      REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
      METRICS_TOKEN: TOKEN,
    });
    temporal = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
    app = await buildApp({ db, temporal, config, secret: config.secret! });

    // Known rows, so exact sums and buckets can be checked.
    const at = (h: number) => new Date(Date.UTC(2026, 10, 2, h)).toISOString();
    const base = { catalogItemId: 'second-monitor', requesterId: 'alice', beneficiaryId: 'alice' };
    await db.insert(t.requests).values([
      {
        ...base,
        id: 'REQ-P1',
        type: 'resource',
        status: 'fulfilled',
        fingerprint: 'p1',
        steps: [
          { name: 'approval_level_1', kind: 'human', state: 'completed', startedAt: at(0), endedAt: at(1) },
          { name: 'approval_level_2', kind: 'human', state: 'completed', startedAt: at(1), endedAt: at(3) },
          { name: 'sla_warning', kind: 'automated', state: 'completed', startedAt: at(2), endedAt: at(2) },
          { name: 'delivery', kind: 'human', state: 'running', startedAt: at(3) },
        ],
      },
      { ...base, id: 'REQ-P2', type: 'resource', status: 'awaiting_approval', fingerprint: 'p2' },
    ]);
    await db.insert(t.approvalTasks).values([
      { requestId: 'REQ-P2', level: 0, approverId: 'bob', state: 'pending' },
      { requestId: 'REQ-P2', level: 0, approverId: 'erin', state: 'pending' },
      { requestId: 'REQ-P1', level: 0, approverId: 'bob', state: 'approved' },
    ]);
    const task = { groupId: 'procurement', title: 'x', description: 'x' };
    await db.insert(t.tasks).values([
      { ...task, id: 'T1', key: 't1', state: 'open' },
      { ...task, id: 'T2', key: 't2', state: 'claimed' },
      { ...task, id: 'T3', key: 't3', state: 'completed' },
    ]);
    const job = { deviceId: 'LAPTOP-ALICE', packageId: 'visio', action: 'install' as const };
    await db.insert(t.deploymentJobs).values([
      { ...job, id: 'J1', requestId: 'REQ-J', attempt: 1, state: 'failed', outcome: 'timed_out' },
      { ...job, id: 'J2', requestId: 'REQ-J', attempt: 2, state: 'expired' },
      { ...job, id: 'J3', requestId: 'REQ-J', attempt: 3, state: 'queued' },
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await temporal?.connection.close();
  });

  it('asks for the bearer token when METRICS_TOKEN is set', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', TOKEN]) {
      const res = await app.inject({
        method: 'GET',
        url: '/metrics',
        ...(authorization ? { headers: { authorization } } : {}),
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.headers['www-authenticate']).toContain('Bearer');
      expect(res.json<{ detail: string }>().detail).toContain('METRICS_TOKEN');
    }
    const ok = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE reqflow_requests_started_total counter');
  });

  it('folds approval levels into "approval", skips SLA markers and unfinished steps', async () => {
    const text = (
      await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
    ).body;
    const approval = { type: 'resource', kind: 'human', step: 'approval' };
    expect(sample(text, 'reqflow_step_duration_seconds_count', approval)).toBe(2);
    expect(sample(text, 'reqflow_step_duration_seconds_sum', approval)).toBe(3 * 3600);
    expect(sample(text, 'reqflow_step_duration_seconds_bucket', { ...approval, le: '3600' })).toBe(1);
    expect(sample(text, 'reqflow_step_duration_seconds_bucket', { ...approval, le: '14400' })).toBe(2);
    expect(text).not.toMatch(/step="(approval_level_\d+|sla_warning|delivery)"/);

    expect(sample(text, 'reqflow_requests_finished_total', { type: 'resource', outcome: 'fulfilled' })).toBe(
      1,
    );
    expect(sample(text, 'reqflow_pending_approvals', { type: 'resource' })).toBe(2);
    expect(sample(text, 'reqflow_open_tasks', { group: 'procurement' })).toBe(2);
    expect(sample(text, 'reqflow_open_tasks', { group: 'service-desk' })).toBe(0);
    expect(sample(text, 'reqflow_agent_jobs_total', { action: 'install', result: 'timed_out' })).toBe(1);
    expect(sample(text, 'reqflow_agent_jobs_total', { action: 'install', result: 'expired' })).toBe(1);
    expect(sample(text, 'reqflow_agent_jobs_total', { result: 'queued' })).toBeUndefined();
  });

  it('follows the table between scrapes', async () => {
    const scrape = async () =>
      (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } }))
        .body;
    const before = sample(await scrape(), 'reqflow_step_duration_seconds_count', {
      type: 'resource',
      step: 'delivery',
    });
    expect(before).toBeUndefined();
    const [p1] = await db.select().from(t.requests).where(eq(t.requests.id, 'REQ-P1'));
    const steps = p1!.steps.map((s) =>
      s.name === 'delivery' ? { ...s, state: 'completed' as const, endedAt: s.startedAt } : s,
    );
    await db.update(t.requests).set({ steps }).where(eq(t.requests.id, 'REQ-P1'));
    const after = await scrape();
    expect(sample(after, 'reqflow_step_duration_seconds_count', { type: 'resource', step: 'delivery' })).toBe(
      1,
    );
    expect(
      sample(after, 'reqflow_step_duration_seconds_bucket', {
        type: 'resource',
        step: 'delivery',
        le: '0.1',
      }),
    ).toBe(1);
  });
});
