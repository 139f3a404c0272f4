import { ApplicationFailure } from '@temporalio/activity';
import * as t from '../db/schema.js';
import { MONTH_PATTERN } from '../metrics/fulfillment.js';
import {
  buildMonthlyReport,
  isMonthOver,
  ownersOf,
  reportId,
  type TargetComparison,
} from '../metrics/report.js';
import { clock, type ActivityDeps } from './deps.js';

export interface StoreMonthlyReportInput {
  /** `YYYY-MM`, a month that is over. */
  period: string;
  /** `schedule`, or the operator who asked for it. */
  generatedBy: string;
  workflowId: string;
}

export interface StoredMonthlyReport {
  reportId: string;
  period: string;
  comparisons: TargetComparison[];
  /** The service owners to tell, each with the catalog items they answer for. */
  owners: { userId: string; catalogItemIds: string[] }[];
}

export function createReportActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /**
     * Computes a month's report and stores it as `RPT-YYYY-MM`. A rerun (the schedule's
     * retry, an operator's backfill) replaces the row with the same figures, since a
     * month that is over has closed cohorts; only generatedAt, generatedBy and the
     * workflow change.
     */
    async storeMonthlyReport(input: StoreMonthlyReportInput): Promise<StoredMonthlyReport> {
      if (!new RegExp(MONTH_PATTERN).test(input.period)) {
        throw ApplicationFailure.create({
          type: 'InvalidPeriod',
          message: `"${input.period}" is not a month (YYYY-MM).`,
          nonRetryable: true,
        });
      }
      const generatedAt = now();
      if (!isMonthOver(input.period, new Date(generatedAt))) {
        throw ApplicationFailure.create({
          type: 'PeriodNotOver',
          message: `${input.period} is not over yet; its figures would still change.`,
          nonRetryable: true,
        });
      }
      const body = await buildMonthlyReport(db, input.period);
      const row = {
        id: reportId(input.period),
        period: input.period,
        periodFrom: body.from,
        periodTo: body.to,
        body,
        generatedBy: input.generatedBy,
        generatedAt,
        workflowId: input.workflowId,
      };
      await db
        .insert(t.reports)
        .values(row)
        .onConflictDoUpdate({
          target: t.reports.id,
          set: { body, generatedBy: row.generatedBy, generatedAt, workflowId: row.workflowId },
        });
      return {
        reportId: row.id,
        period: input.period,
        comparisons: body.comparisons,
        owners: ownersOf(body.comparisons),
      };
    },
  };
}
