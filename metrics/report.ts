import { toMs } from '../domain/duration.js';
import { and, gte, lt } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { RequestType } from '../domain/status.js';
import { fulfillmentMetrics, monthRange, type FulfillmentGroup } from './fulfillment.js';

/** One catalog item's mean fulfillment time in the month against the goal set on the item. */
export interface TargetComparison {
  catalogItemId: string;
  name: string;
  type: RequestType;
  /** Who answers for the item and is told the result; null: nobody on record. */
  serviceOwnerId: string | null;
  /** The goal as set on the item (`catalog_items.fulfillment_target`, e.g. "1h"); null: none. */
  target: string | null;
  targetMs: number | null;
  fulfilled: number;
  /** Mean submit-to-fulfilled time of the requests fulfilled in the month; null: none. */
  meanMs: number | null;
  /** Mean at or under the goal; null when there is no goal or nothing to compare. */
  met: boolean | null;
  /** e.g. "Microsoft Visio (standard_service): mean 4 h, goal 1 h — 3 h over". */
  text: string;
}

/** The figures of one calendar month, as stored in `reports.body`. */
export interface MonthlyReport {
  period: string;
  from: string;
  to: string;
  byType: FulfillmentGroup[];
  byCatalogItem: FulfillmentGroup[];
  comparisons: TargetComparison[];
}

export const reportId = (period: string) => `RPT-${period}`;

/** A month can be reported on once it is over: before that its figures still change. */
export function isMonthOver(period: string, now: Date): boolean {
  return monthRange(period).to <= now.toISOString();
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
];

/** A duration as a person reads it: its two largest units, rounded ("4 h", "1 d 2 h", "3 min 20 s"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const unitOf = (v: number) => UNITS.findIndex(([, size]) => v >= size);
  const finer = UNITS[Math.min(unitOf(ms) + 1, UNITS.length - 1)]![1];
  let rest = Math.round(ms / finer) * finer;
  // Rounding may carry into a larger unit (59 min 50 s -> 1 h).
  const i = unitOf(rest);
  const parts: string[] = [];
  for (const [name, size] of UNITS.slice(i, i + 2)) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${name}`);
  }
  return parts.join(' ');
}

function parseTarget(target: string): number | null {
  try {
    const ms = toMs(target);
    return Number.isFinite(ms) && ms > 0 ? ms : null;
  } catch {
    return null;
  }
}

function compare(
  item: Pick<
    typeof t.catalogItems.$inferSelect,
    'id' | 'name' | 'type' | 'serviceOwnerId' | 'fulfillmentTarget'
  >,
  group: FulfillmentGroup | undefined,
): TargetComparison {
  const targetMs = item.fulfillmentTarget ? parseTarget(item.fulfillmentTarget) : null;
  const meanMs = group?.fulfillment?.mean ?? null;
  const label = `${item.name} (${item.type})`;
  const goal =
    item.fulfillmentTarget === null
      ? 'no goal set'
      : targetMs === null
        ? `goal "${item.fulfillmentTarget}" is not a duration`
        : `goal ${formatDuration(targetMs)}`;
  let text: string;
  let met: boolean | null = null;
  if (meanMs === null) text = `${label}: nothing fulfilled, ${goal}`;
  else if (targetMs === null) text = `${label}: mean ${formatDuration(meanMs)}, ${goal}`;
  else {
    met = meanMs <= targetMs;
    const verdict =
      meanMs > targetMs
        ? `${formatDuration(meanMs - targetMs)} over`
        : meanMs === targetMs
          ? 'met'
          : `met (${formatDuration(targetMs - meanMs)} under)`;
    text = `${label}: mean ${formatDuration(meanMs)}, ${goal} — ${verdict}`;
  }
  return {
    catalogItemId: item.id,
    name: item.name,
    type: item.type,
    serviceOwnerId: item.serviceOwnerId,
    target: item.fulfillmentTarget,
    targetMs,
    fulfilled: group?.fulfilled ?? 0,
    meanMs,
    met,
    text,
  };
}

/**
 * The continual-improvement report of a calendar month: the figures of
 * metrics/fulfillment.ts by type and by catalog item (closed cohorts, so a month that is
 * over always gives the same figures), and each catalog item's mean against its goal.
 * Every active item is compared, and any other item with requests fulfilled in the month.
 */
export async function buildMonthlyReport(db: DB, period: string): Promise<MonthlyReport> {
  const { from, to } = monthRange(period);
  const byType = await fulfillmentMetrics(db, { from, to, groupBy: 'type' });
  const byCatalogItem = await fulfillmentMetrics(db, { from, to, groupBy: 'catalogItem' });
  const groups = new Map(byCatalogItem.map((g) => [g.key, g]));
  const timed = new Set(
    (
      await db
        .selectDistinct({ id: t.requests.catalogItemId })
        .from(t.requests)
        .where(and(gte(t.requests.fulfilledAt, from), lt(t.requests.fulfilledAt, to)))
    ).map((r) => r.id),
  );
  const comparisons = (await db.select().from(t.catalogItems).orderBy(t.catalogItems.id))
    .filter((item) => item.active || timed.has(item.id))
    .map((item) => compare(item, groups.get(item.id)));
  return { period, from, to, byType, byCatalogItem, comparisons };
}

/** Service owners and the compared items they answer for, owners and items in id order. */
export function ownersOf(comparisons: TargetComparison[]): { userId: string; catalogItemIds: string[] }[] {
  const owners = new Map<string, string[]>();
  for (const c of comparisons)
    if (c.serviceOwnerId)
      owners.set(c.serviceOwnerId, [...(owners.get(c.serviceOwnerId) ?? []), c.catalogItemId]);
  return [...owners.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([userId, catalogItemIds]) => ({ userId, catalogItemIds }));
}
