import {
  Client,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type ConnectionLike,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import type { MonthlyReportInput } from '../workflows/monthly-report.js';
import type { Config } from './config.js';

export const monthlyReportScheduleId = (taskQueue: string) => `${taskQueue}-monthly-report`;

// 02:00 UTC on the 1st: the month is over and the last projections of its requests are written.
const MONTHLY = { dayOfMonth: 1, hour: 2, minute: 0 } as const;

function monthlyReportSchedule(config: Config) {
  const { taskQueue } = config.temporal;
  const id = monthlyReportScheduleId(taskQueue);
  const args: [MonthlyReportInput] = [{}];
  return {
    spec: {
      calendars: [{ ...MONTHLY, comment: 'Fulfillment report of the previous month' }],
      timezone: 'UTC',
    },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'monthlyReport',
      args,
      taskQueue,
      // The server appends the nominal time, so each month's run has an id of its own.
      workflowId: id,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      // A report missed by a longer outage is produced by a backfill (README), not on restart.
      catchupWindow: '7d',
    },
  };
}

const one = (ranges: { start: number | string; end?: number | string }[] | undefined, value: number) =>
  ranges?.length === 1 && ranges[0]!.start === value && (ranges[0]!.end ?? value) === value;

/** Whether a schedule found on the server does what this version of reqflow wants. */
function isCurrent(d: ScheduleDescription, config: Config): boolean {
  const cal = d.spec.calendars?.[0];
  return (
    d.spec.calendars?.length === 1 &&
    !d.spec.intervals?.length &&
    cal !== undefined &&
    one(cal.dayOfMonth, MONTHLY.dayOfMonth) &&
    one(cal.hour, MONTHLY.hour) &&
    one(cal.minute, MONTHLY.minute) &&
    (d.spec.timezone ?? 'UTC') === 'UTC' &&
    d.action.workflowType === 'monthlyReport' &&
    d.action.taskQueue === config.temporal.taskQueue &&
    d.action.workflowId === monthlyReportScheduleId(config.temporal.taskQueue) &&
    d.policies.overlap === ScheduleOverlapPolicy.SKIP
  );
}

/**
 * Makes sure the monthly report schedule exists, once, however many workers start: a
 * create that finds it already there is fine, and a schedule left by an older version
 * (another time, another task queue) is updated in place, keeping its paused state and note.
 * Takes a Client, or the worker's connection to build one on.
 */
export async function ensureMonthlyReportSchedule(
  temporal: Client | ConnectionLike,
  config: Config,
): Promise<ScheduleHandle> {
  const client =
    temporal instanceof Client
      ? temporal
      : new Client({ connection: temporal, namespace: config.temporal.namespace });
  const scheduleId = monthlyReportScheduleId(config.temporal.taskQueue);
  const wanted = monthlyReportSchedule(config);
  try {
    return await client.schedule.create({ scheduleId, ...wanted });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  if (!isCurrent(await handle.describe(), config)) {
    await handle.update((prev) => ({ ...prev, ...wanted, state: prev.state }));
  }
  return handle;
}
