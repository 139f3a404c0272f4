import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { proxyActivities, workflowInfo, type WorkflowInfo } from '@temporalio/workflow';
import type { createReportActivities } from '../activities/reports.js';
import { acts } from './activity-proxies.js';

export interface MonthlyReportInput {
  /** `YYYY-MM`; without it, the month before the schedule's nominal time. */
  period?: string;
  /** `schedule` (the default), or the operator who asked for the report. */
  generatedBy?: string;
}

export interface MonthlyReportResult {
  reportId: string;
  period: string;
  /** Service owners told about their items (once per month and owner, however often it runs). */
  notified: string[];
}

/** Set by the server on every workflow a Schedule starts, backfills included: the slot's nominal time. */
export const ScheduledStartTimeKey = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

// A month of requests is read in one go; on a large database that outlasts the 30 s of `acts`.
const { storeMonthlyReport } = proxyActivities<ReturnType<typeof createReportActivities>>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', maximumInterval: '1m', backoffCoefficient: 2 },
});

/** The calendar month (UTC, `YYYY-MM`) before the one `at` falls in. */
export function previousMonth(at: Date): string {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth(); // 0-based: the previous month's 1-based number, 0 in January
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, '0')}`;
}

/**
 * When the run was meant to happen: the schedule's nominal time (so a backfill of a past
 * range reports on the months of that range, and a late start on the right month), else
 * when the run started. Both come from the history, so replay sees the same value.
 */
export function nominalTime(info: Pick<WorkflowInfo, 'typedSearchAttributes' | 'startTime'>): Date {
  return info.typedSearchAttributes.get(ScheduledStartTimeKey) ?? info.startTime;
}

/**
 * ITIL "Continual improvement": once a month (a Temporal Schedule, runtime/schedules.ts)
 * the previous month's fulfillment figures are stored as a report, every catalog item is
 * compared with its goal and each service owner is told how their items did.
 * Rerunning a month stores the same figures and notifies nobody twice.
 */
export async function monthlyReport(input: MonthlyReportInput = {}): Promise<MonthlyReportResult> {
  const info = workflowInfo();
  const period = input.period ?? previousMonth(nominalTime(info));
  const stored = await storeMonthlyReport({
    period,
    generatedBy: input.generatedBy ?? 'schedule',
    workflowId: info.workflowId,
  });
  for (const owner of stored.owners) {
    const items = stored.comparisons.filter((c) => owner.catalogItemIds.includes(c.catalogItemId));
    const missed = items.filter((c) => c.met === false).length;
    await acts.notify({
      // One message per month and owner: a rerun or a backfill of the month finds it sent.
      key: `report:${period}:${owner.userId}`,
      recipient: owner.userId,
      subject:
        missed > 0
          ? `Fulfillment report ${period}: ${missed} of your items missed their goal`
          : `Fulfillment report ${period} for your items`,
      body: items.map((c) => c.text).join('\n'),
      links: { report: `/api/reports/${stored.reportId}` },
    });
  }
  return { reportId: stored.reportId, period, notified: stored.owners.map((o) => o.userId) };
}
