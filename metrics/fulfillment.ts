import { and, gte, lt } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/** Steps in which a person acts; a request fulfilled without any is "automated". */
const HUMAN_STEP =
  /^(approval_level_\d+|service_desk_answer|requester_details|supplier_order|shipment|delivery|owner_acknowledges|owner_replies)$/;

export interface Stats {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  max: number;
}

export interface FulfillmentGroup {
  key: string;
  submitted: number;
  fulfilled: number;
  /** Submit-to-fulfilled time of the fulfilled requests. */
  fulfillment: Stats | null;
  /** Time spent in each step (waiting for approval, for the device, on a person...), by step name. */
  steps: Record<string, Stats>;
  /** Share of fulfilled requests with no human step. */
  automationRate: number | null;
  sla: { met: number; breached: number };
  survey: { answers: number; meanScore: number | null };
}

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

/**
 * Fulfillment figures from recorded times (the projection of each request's
 * workflow), for requests submitted in [from, to), grouped by type or catalog item.
 * The same period always gives the same figures.
 */
export function fulfillmentMetrics(
  db: DB,
  q: { from: string; to: string; groupBy: 'type' | 'catalogItem' },
): FulfillmentGroup[] {
  const rows = db
    .select()
    .from(t.requests)
    .where(and(gte(t.requests.createdAt, q.from), lt(t.requests.createdAt, q.to)))
    .all();
  const scores = new Map(
    db
      .select()
      .from(t.surveyResponses)
      .all()
      .map((s) => [s.requestId, s.score]),
  );
  const groups = new Map<string, typeof rows>();
  for (const row of rows) {
    const key = q.groupBy === 'type' ? row.type : row.catalogItemId;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, members]) => {
      const fulfilled = members.filter((r) => r.status === 'fulfilled' && r.fulfilledAt);
      const stepTimes = new Map<string, number[]>();
      for (const r of fulfilled) {
        for (const s of r.steps) {
          if (!s.endedAt || s.name.startsWith('sla_')) continue;
          const name = s.name.startsWith('approval_level_') ? 'approval' : s.name;
          stepTimes.set(name, [
            ...(stepTimes.get(name) ?? []),
            Date.parse(s.endedAt) - Date.parse(s.startedAt),
          ]);
        }
      }
      const automated = fulfilled.filter((r) => !r.steps.some((s) => HUMAN_STEP.test(s.name))).length;
      const breached = members.filter((r) => r.steps.some((s) => s.name === 'sla_breach')).length;
      const answers = members.map((r) => scores.get(r.id)).filter((s): s is number => s !== undefined);
      return {
        key,
        submitted: members.length,
        fulfilled: fulfilled.length,
        fulfillment: stats(fulfilled.map((r) => Date.parse(r.fulfilledAt!) - Date.parse(r.createdAt))),
        steps: Object.fromEntries(
          [...stepTimes.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, v]) => [name, stats(v)!]),
        ),
        automationRate: fulfilled.length ? automated / fulfilled.length : null,
        sla: {
          met:
            fulfilled.length - fulfilled.filter((r) => r.steps.some((s) => s.name === 'sla_breach')).length,
          breached,
        },
        survey: {
          answers: answers.length,
          meanScore: answers.length ? answers.reduce((a, b) => a + b, 0) / answers.length : null,
        },
      };
    });
}
