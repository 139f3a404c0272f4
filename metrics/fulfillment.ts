import { and, eq, gte, lt } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { RequestStep } from '../domain/request.js';

/**
 * A request's approval levels (`approval_level_1`, ...) are reported as one step, "approval";
 * the kind says they are a person's, the name only which of a person's steps they are.
 */
const APPROVAL_STEP = /^approval_level_\d+$/;

export interface Stats {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  max: number;
}

/** Where a request's submit-to-fulfilled time went; per request, the five add up to that time. */
export const PHASES = ['approval', 'device_wait', 'deploying', 'person', 'automated'] as const;
export type Phase = (typeof PHASES)[number];

export interface FulfillmentGroup {
  key: string;
  /** Requests submitted in the period. */
  submitted: number;
  /** Requests fulfilled in the period: the cohort every time figure below is taken over. */
  fulfilled: number;
  /** Submit-to-fulfilled time of the fulfilled requests. */
  fulfillment: Stats | null;
  /**
   * Time per phase, summed per request, over the fulfilled requests that went through it
   * (`automated` over all of them): approval levels, waiting for the device to start
   * the job, the device running it, steps a person does, and the rest of the time.
   */
  phases: Record<Phase, Stats | null>;
  /** Time spent in each step (waiting for approval, for the device, on a person...), by step name. */
  steps: Record<string, Stats>;
  /** Share of fulfilled requests with no step of kind `human`. */
  automationRate: number | null;
  /** Of the fulfilled requests: fulfilled without an `sla_breach` step, and with one. */
  sla: { met: number; breached: number };
  /** Answers given before the period's end, on requests fulfilled in it. */
  survey: { answers: number; meanScore: number | null };
}

export type GroupBy = 'type' | 'catalogItem';

/** Nearest-rank percentile: the smallest value with at least q of the values at or below it. */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

export function stats(values: number[]): Stats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    mean: Math.round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    max: sorted[sorted.length - 1]!,
  };
}

const ms = (iso: string) => Date.parse(iso);
const span = (s: RequestStep) => (s.endedAt ? Math.max(0, ms(s.endedAt) - ms(s.startedAt)) : 0);

interface JobTimes {
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * One fulfilled request's time by phase; absent phases are left out. A deploy step waits
 * for the device until the agent starts its job (`deployment_jobs.started_at`, keyed by
 * request and attempt) and deploys from then until the job finished; a step whose job
 * never started is all waiting. Whatever no other phase claims is `automated`.
 */
function phaseTimes(
  r: { createdAt: string; fulfilledAt: string; steps: RequestStep[] },
  jobs: Map<number, JobTimes>,
): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  const add = (phase: Phase, value: number) => (out[phase] = (out[phase] ?? 0) + value);
  for (const s of r.steps) {
    if (!s.endedAt) continue;
    if (s.kind === 'human') add(APPROVAL_STEP.test(s.name) ? 'approval' : 'person', span(s));
    else if (s.kind === 'device') {
      const start = ms(s.startedAt);
      const end = ms(s.endedAt);
      const job = jobs.get(s.attempt ?? 1);
      const jobStart = job?.startedAt ? Math.min(Math.max(ms(job.startedAt), start), end) : end;
      add('device_wait', jobStart - start);
      if (job?.startedAt)
        add('deploying', Math.max(0, (job.finishedAt ? ms(job.finishedAt) : end) - jobStart));
    }
  }
  const claimed = Object.values(out).reduce((a, b) => a + b, 0);
  out.automated = Math.max(0, ms(r.fulfilledAt) - ms(r.createdAt) - claimed);
  return out;
}

/**
 * Fulfillment figures from recorded times (the projection of each request's workflow),
 * grouped by request type or catalog item.
 *
 * Closed cohorts, so the figures of a period that is over never change: `submitted`
 * counts requests created in [from, to); every time figure (fulfillment, phases, steps,
 * automation rate, SLA) is over the requests fulfilled in [from, to), whenever they were
 * submitted; survey answers count when given before `to`. A request submitted in one
 * month and fulfilled in the next is counted as submitted in the first and timed in the second.
 */
export async function fulfillmentMetrics(
  db: DB,
  q: { from: string; to: string; groupBy: GroupBy },
): Promise<FulfillmentGroup[]> {
  const keyOf = (r: { type: string; catalogItemId: string }) =>
    q.groupBy === 'type' ? r.type : r.catalogItemId;
  const inPeriod = and(gte(t.requests.fulfilledAt, q.from), lt(t.requests.fulfilledAt, q.to));

  const submitted = new Map<string, number>();
  for (const r of await db
    .select({ type: t.requests.type, catalogItemId: t.requests.catalogItemId })
    .from(t.requests)
    .where(and(gte(t.requests.createdAt, q.from), lt(t.requests.createdAt, q.to))))
    submitted.set(keyOf(r), (submitted.get(keyOf(r)) ?? 0) + 1);

  const fulfilled = (
    await db
      .select({
        id: t.requests.id,
        type: t.requests.type,
        catalogItemId: t.requests.catalogItemId,
        steps: t.requests.steps,
        createdAt: t.requests.createdAt,
        fulfilledAt: t.requests.fulfilledAt,
      })
      .from(t.requests)
      .where(inPeriod)
      .orderBy(t.requests.id)
  ).map((r) => ({ ...r, fulfilledAt: r.fulfilledAt! }));

  const jobs = new Map<string, Map<number, JobTimes>>();
  for (const j of await db
    .select({
      requestId: t.deploymentJobs.requestId,
      attempt: t.deploymentJobs.attempt,
      startedAt: t.deploymentJobs.startedAt,
      finishedAt: t.deploymentJobs.finishedAt,
    })
    .from(t.deploymentJobs)
    .innerJoin(t.requests, eq(t.requests.id, t.deploymentJobs.requestId))
    .where(and(inPeriod, eq(t.deploymentJobs.action, 'install')))) {
    const perRequest = jobs.get(j.requestId) ?? new Map<number, JobTimes>();
    perRequest.set(j.attempt, j);
    jobs.set(j.requestId, perRequest);
  }

  const scores = new Map(
    (
      await db
        .select({ requestId: t.surveyResponses.requestId, score: t.surveyResponses.score })
        .from(t.surveyResponses)
        .innerJoin(t.requests, eq(t.requests.id, t.surveyResponses.requestId))
        .where(and(inPeriod, lt(t.surveyResponses.createdAt, q.to)))
    ).map((s) => [s.requestId, s.score]),
  );

  const cohorts = new Map<string, typeof fulfilled>();
  for (const key of submitted.keys()) cohorts.set(key, []);
  for (const r of fulfilled) cohorts.set(keyOf(r), [...(cohorts.get(keyOf(r)) ?? []), r]);

  return [...cohorts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, members]) => {
      const stepTimes = new Map<string, number[]>();
      const phaseValues = new Map<Phase, number[]>(PHASES.map((p) => [p, []]));
      for (const r of members) {
        for (const s of r.steps) {
          if (!s.endedAt || s.name.startsWith('sla_')) continue;
          const name = APPROVAL_STEP.test(s.name) ? 'approval' : s.name;
          stepTimes.set(name, [...(stepTimes.get(name) ?? []), span(s)]);
        }
        const phases = phaseTimes(r, jobs.get(r.id) ?? new Map<number, JobTimes>());
        for (const p of PHASES) if (phases[p] !== undefined) phaseValues.get(p)!.push(phases[p]);
      }
      const automated = members.filter((r) => !r.steps.some((s) => s.kind === 'human')).length;
      const breached = members.filter((r) => r.steps.some((s) => s.name === 'sla_breach')).length;
      const answers = members.map((r) => scores.get(r.id)).filter((s): s is number => s !== undefined);
      return {
        key,
        submitted: submitted.get(key) ?? 0,
        fulfilled: members.length,
        fulfillment: stats(members.map((r) => ms(r.fulfilledAt) - ms(r.createdAt))),
        phases: Object.fromEntries(PHASES.map((p) => [p, stats(phaseValues.get(p)!)])) as Record<
          Phase,
          Stats | null
        >,
        steps: Object.fromEntries(
          [...stepTimes.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, v]) => [name, stats(v)!]),
        ),
        automationRate: members.length ? automated / members.length : null,
        sla: { met: members.length - breached, breached },
        survey: {
          answers: answers.length,
          meanScore: answers.length ? answers.reduce((a, b) => a + b, 0) / answers.length : null,
        },
      };
    });
}

/** `YYYY-MM`, a calendar month in UTC. */
export const MONTH_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])$';

/** The UTC calendar month `YYYY-MM` as the half-open range [from, to). */
export function monthRange(month: string): { from: string; to: string } {
  if (!new RegExp(MONTH_PATTERN).test(month)) throw new Error(`"${month}" is not a month (YYYY-MM)`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  return {
    from: new Date(Date.UTC(y, m - 1, 1)).toISOString(),
    to: new Date(Date.UTC(y, m, 1)).toISOString(),
  };
}
