import { count, eq, inArray, sql } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { databaseDialect, selectRows, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { RequestStep } from '../domain/request.js';
import { FINAL_STATUSES, REQUEST_TYPES } from '../domain/status.js';
import { readStackState } from '../runtime/stack-state.js';

// Steps run from a fraction of a second (an automated check) to days (an approval, a
// delivery): 0.1 s to 1 h, then 4 h, 1, 3, 7 and 14 days (the approval expiry and
// delivery timeout), then +Inf.
const STEP_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400, 259_200, 604_800, 1_209_600];

// API answers take milliseconds; POST /api/requests waits up to SUBMIT_WAIT_MS (3 s) for
// the entitlement result and an agent's long poll is held up to AGENT_POLL_MAX_SECONDS (25 s).
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface HttpLabels {
  method: string;
  /** The route pattern (`/api/requests/:id`), never the raw URL; `unmatched` for a 404 without a route. */
  route: string;
  status_code: string;
}

export interface PrometheusMetrics {
  /** This app's own registry: several apps in one process (tests) never share series. */
  registry: Registry;
  /** API latency, observed in process by the Fastify plugin. */
  httpRequestDuration: Histogram<keyof HttpLabels>;
}

/** A finished step's time in seconds, or undefined when its times are unusable. */
function stepSeconds(startedAt: string, endedAt: string): number | undefined {
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/**
 * Whether anything may have been committed to the database since the last call. SQLite:
 * by another connection (data_version) or by this one (total_changes), cheap and exact.
 * PostgreSQL: the write-ahead log's insert position (the replay position on a standby),
 * which every commit moves before it returns; so does any other write to the cluster,
 * which only costs a rebuild that was not needed, never a missed change. Not the write
 * position (pg_current_wal_lsn): with synchronous_commit off a commit returns before its
 * record is written out, and a scrape right after it would see nothing new.
 */
function changeDetector(db: DB): () => Promise<boolean> {
  let last = '';
  const position =
    databaseDialect(db) === 'postgres'
      ? async () => {
          const [row] = await selectRows<{ lsn: string }>(
            db,
            sql`select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_insert_lsn() end)::text as lsn`,
          );
          return row?.lsn ?? '';
        }
      : (() => {
          const own = db.$client.prepare('select total_changes()').pluck();
          return async () =>
            // A prepared better-sqlite3 statement on the SQLite branch only, not a drizzle query.
            // eslint-disable-next-line no-restricted-syntax
            `${String(db.$client.pragma('data_version', { simple: true }))}/${String(own.get())}`;
        })();
  return async () => {
    const now = await position();
    const changed = now !== last;
    last = now;
    return changed;
  };
}

/**
 * Every request's type and steps. SQLite: a raw statement iterated row by row, the JSON
 * parsed here; PostgreSQL: one query, the driver parsing jsonb.
 */
function allSteps(db: DB): () => Promise<Iterable<[string, RequestStep[]]>> {
  if (databaseDialect(db) === 'postgres') {
    return async () =>
      (await db.select({ type: t.requests.type, steps: t.requests.steps }).from(t.requests)).map(
        (r): [string, RequestStep[]] => [r.type, r.steps],
      );
  }
  const statement = db.$client.prepare('select type, steps from requests').raw();
  return async () =>
    (function* () {
      for (const [type, json] of statement.iterate() as IterableIterator<[string, string]>) {
        yield [type, JSON.parse(json) as RequestStep[]] as [string, RequestStep[]];
      }
    })();
}

/**
 * Prometheus series for the service desk (prefix `reqflow_`).
 *
 * The workers and the API are separate processes that share one database, and the
 * workers write the request projection; so request, step, job, task and approval
 * series are read from the tables at scrape time (prom-client's `collect()` hook)
 * rather than counted in whichever process happened to see an event. Every API
 * process then reports the same figures, and a restart loses nothing. Only API
 * latency is counted in process.
 */
export function createPrometheusMetrics({
  db,
  stackStateFile,
}: {
  db: DB;
  /** `npm start`'s supervisor state (restarts per process); absent outside the embedded stack. */
  stackStateFile?: string | undefined;
}): PrometheusMetrics {
  const registry = new Registry();
  const registers = [registry];

  // Rows of `requests` are never deleted, so these counts only grow and are valid
  // counters, recomputed from the table on each scrape. One exception: a knowledge
  // answer the requester rejects reopens a fulfilled information request, so its
  // "fulfilled" series can drop by one (Prometheus reads that as a counter reset).
  new Counter({
    name: 'reqflow_requests_started_total',
    help: 'Requests submitted, by request type and catalog item.',
    labelNames: ['type', 'catalog_item'] as const,
    registers,
    async collect() {
      const rows = await db
        .select({ type: t.requests.type, catalogItem: t.requests.catalogItemId, n: count() })
        .from(t.requests)
        .groupBy(t.requests.type, t.requests.catalogItemId);
      this.reset();
      for (const r of rows) this.inc({ type: r.type, catalog_item: r.catalogItem }, r.n);
    },
  });

  new Counter({
    name: 'reqflow_requests_finished_total',
    help: 'Requests that reached a final status, by request type and outcome (that status).',
    labelNames: ['type', 'outcome'] as const,
    registers,
    async collect() {
      const rows = await db
        .select({ type: t.requests.type, status: t.requests.status, n: count() })
        .from(t.requests)
        .where(inArray(t.requests.status, [...FINAL_STATUSES]))
        .groupBy(t.requests.type, t.requests.status);
      this.reset();
      for (const r of rows) this.inc({ type: r.type, outcome: r.status }, r.n);
    },
  });

  // Rebuilt from every finished step, and only when the database changed since the last
  // scrape: exact, with no state to lose. The cost grows with the table (about 0.1 s of
  // the API's event loop per 10 000 requests; the steps JSON is parsed in JS, several
  // times faster than SQLite's json_each). Far beyond that, record step times in a
  // table of their own as they finish and sum that instead.
  const changed = changeDetector(db);
  const stepsOfEveryRequest = allSteps(db);
  new Histogram({
    name: 'reqflow_step_duration_seconds',
    help: 'Time spent in each finished request step (approval levels folded into "approval"), by request type and step kind (automated, human, device, waiting).',
    labelNames: ['type', 'kind', 'step'] as const,
    buckets: STEP_BUCKETS,
    registers,
    async collect() {
      if (!(await changed())) return;
      const rows = await stepsOfEveryRequest();
      this.reset();
      for (const [type, steps] of rows) {
        for (const s of steps) {
          if (!s.endedAt || s.name.startsWith('sla_')) continue;
          const seconds = stepSeconds(s.startedAt, s.endedAt);
          if (seconds === undefined) continue;
          const step = s.name.startsWith('approval_level_') ? 'approval' : s.name;
          this.observe({ type, kind: s.kind, step }, seconds);
        }
      }
    },
  });

  const httpRequestDuration = new Histogram({
    name: 'reqflow_http_request_duration_seconds',
    help: 'API response time, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });

  new Counter({
    name: 'reqflow_agent_jobs_total',
    help: 'Finished deployment jobs, by action and result (the agent’s outcome, or "expired").',
    labelNames: ['action', 'result'] as const,
    registers,
    async collect() {
      // The agent reports succeeded, already_installed, failed or timed_out; a job no
      // device picked up in time is expired and has no outcome.
      const result = sql<string>`coalesce(${t.deploymentJobs.outcome}, ${t.deploymentJobs.state})`;
      const rows = await db
        .select({ action: t.deploymentJobs.action, result, n: count() })
        .from(t.deploymentJobs)
        .where(inArray(t.deploymentJobs.state, ['succeeded', 'failed', 'expired']))
        .groupBy(t.deploymentJobs.action, result);
      this.reset();
      for (const r of rows) this.inc({ action: r.action, result: r.result }, r.n);
    },
  });

  new Gauge({
    name: 'reqflow_open_tasks',
    help: 'Manual tasks open or claimed, by fulfillment group.',
    labelNames: ['group'] as const,
    registers,
    async collect() {
      const groups = await db
        .select({ id: t.groups.id })
        .from(t.groups)
        .where(eq(t.groups.kind, 'fulfillment'));
      const rows = await db
        .select({ group: t.tasks.groupId, n: count() })
        .from(t.tasks)
        .where(inArray(t.tasks.state, ['open', 'claimed']))
        .groupBy(t.tasks.groupId);
      this.reset();
      // Every fulfillment group reports, 0 included, so "no tasks" and "no data" differ.
      for (const g of groups) this.set({ group: g.id }, 0);
      for (const r of rows) this.set({ group: r.group }, r.n);
    },
  });

  new Gauge({
    name: 'reqflow_pending_approvals',
    help: 'Approver tasks waiting for a decision, by request type.',
    labelNames: ['type'] as const,
    registers,
    async collect() {
      const rows = await db
        .select({ type: t.requests.type, n: count() })
        .from(t.approvalTasks)
        .innerJoin(t.requests, eq(t.requests.id, t.approvalTasks.requestId))
        .where(eq(t.approvalTasks.state, 'pending'))
        .groupBy(t.requests.type);
      this.reset();
      for (const type of REQUEST_TYPES) this.set({ type }, 0);
      for (const r of rows) this.set({ type: r.type }, r.n);
    },
  });

  if (stackStateFile) {
    // The supervisor is the `npm start` process, not this one: it writes its counts to a
    // file in DATA_DIR, read at scrape time. A restarted stack starts again from zero,
    // which Prometheus reads as a counter reset.
    const processes = () => readStackState(stackStateFile)?.processes ?? {};
    new Counter({
      name: 'reqflow_stack_restarts_total',
      help: 'Restarts of an embedded stack process (temporal, worker, api, agent) by its supervisor since `npm start`.',
      labelNames: ['process'] as const,
      registers,
      collect() {
        this.reset();
        for (const [name, p] of Object.entries(processes())) this.inc({ process: name }, p.restarts);
      },
    });
    new Gauge({
      name: 'reqflow_stack_process_up',
      help: 'Whether an embedded stack process runs now (0 between a crash and its restart).',
      labelNames: ['process'] as const,
      registers,
      collect() {
        this.reset();
        for (const [name, p] of Object.entries(processes())) this.set({ process: name }, p.pid ? 1 : 0);
      },
    });
  }

  collectDefaultMetrics({ register: registry, prefix: 'reqflow_api_' });

  return { registry, httpRequestDuration };
}
