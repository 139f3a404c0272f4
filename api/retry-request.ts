import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { and, eq, inArray } from 'drizzle-orm';
import { appendAudit } from '../activities/audit.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { Config } from '../runtime/config.js';
import { conflict } from './errors.js';

/** Failure reasons a new round of deployment attempts can fix (see workflows/standard-service.ts). */
const RETRYABLE_REASONS = ['deployment_failed', 'device_unreachable'];

/** The activity each deployment round starts with; a retry resets the workflow to just before it. */
const ROUND_ACTIVITY = 'prepareDeployment';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type EventId = proto.temporal.api.history.v1.IMarkerRecordedEventAttributes['workflowTaskCompletedEventId'];

/**
 * The workflow task that started a deployment round, if this event is that round's start:
 * an activity task scheduled, or (lean runs) the marker of the local activity, whose
 * `data` detail names the activity type.
 */
function roundStartedBy(e: HistoryEvent): EventId {
  const scheduled = e.activityTaskScheduledEventAttributes;
  if (scheduled)
    return scheduled.activityType?.name === ROUND_ACTIVITY
      ? scheduled.workflowTaskCompletedEventId
      : undefined;
  const marker = e.markerRecordedEventAttributes;
  const data = marker?.details?.data?.payloads?.[0]?.data;
  if (!marker || !data) return undefined;
  try {
    const local = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: unknown };
    return local.activity_type === ROUND_ACTIVITY ? marker.workflowTaskCompletedEventId : undefined;
  } catch {
    return undefined;
  }
}

type RequestRow = typeof t.requests.$inferSelect;

/**
 * Retries a failed deployment by resetting the request's workflow to the start of
 * its last deployment round, the way an operator would with `temporal workflow reset`:
 * the new run keeps everything before (entitlement, seat, approvals, change) and
 * deploys again, with attempt numbers going on from the failed ones. The audit entry
 * comes first so the new run can say who retried and why; the escalation task the
 * failure opened is closed because the automation has the request again.
 */
export async function retryRequest(
  deps: { db: DB; temporal: Client; config: Config },
  row: RequestRow,
  operator: string,
  reason: string,
): Promise<{ runId: string; previousRunId: string }> {
  const { db, temporal, config } = deps;
  if (row.type !== 'standard_service') {
    throw conflict(`Request ${row.id} is a ${row.type} request; only a software deployment can be retried.`);
  }
  if (row.status !== 'failed' || !RETRYABLE_REASONS.includes(row.outcome?.reason ?? '')) {
    throw conflict(
      `Request ${row.id} is ${row.status}${row.outcome?.reason ? ` (${row.outcome.reason})` : ''}; only a request whose deployment failed can be retried.`,
    );
  }
  const handle = temporal.workflow.getHandle(row.id);
  const description = await handle.describe();
  // A reset run is already under way (for example a second click): it must not be reset again.
  if (description.status.name !== 'COMPLETED') {
    throw conflict(
      `Request ${row.id} is ${description.status.name.toLowerCase()} in Temporal; nothing to retry.`,
    );
  }
  const history = await handle.fetchHistory();
  const resetPoint = (history.events ?? [])
    .map(roundStartedBy)
    .filter((id): id is NonNullable<EventId> => id !== undefined && id !== null)
    .at(-1);
  if (!resetPoint) {
    throw conflict(
      `Request ${row.id} was started before deployment rounds existed; reset it by hand (README: "Operator recipes").`,
    );
  }
  const previousRunId = description.runId;
  appendAudit(db, new Date().toISOString(), {
    key: `${row.id}:request.retried:${previousRunId}`,
    actor: operator,
    action: 'request.retried',
    requestId: row.id,
    ...(row.deviceId ? { subject: row.deviceId } : {}),
    details: {
      reason,
      previousRunId,
      resetToEventId: Number(resetPoint),
      escalationTaskId: row.outcome?.taskId ?? null,
    },
  });
  const { runId } = await temporal.workflowService.resetWorkflowExecution({
    namespace: config.temporal.namespace,
    workflowExecution: { workflowId: row.id, runId: previousRunId },
    reason: `Deployment retried by ${operator}: ${reason}`,
    workflowTaskFinishEventId: resetPoint,
    requestId: randomUUID(),
    // Signals of the failed round (late device reports) belong to jobs that have expired.
    resetReapplyType: proto.temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
  });
  if (row.outcome?.taskId) {
    db.update(t.tasks)
      .set({
        state: 'cancelled',
        resolution: `Deployment retried by ${operator}; the automation has the request again.`,
        completedBy: operator,
        completedAt: new Date().toISOString(),
      })
      .where(and(eq(t.tasks.id, row.outcome.taskId), inArray(t.tasks.state, ['open', 'claimed'])))
      .run();
  }
  return { runId: runId ?? '', previousRunId };
}
