import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import {
  DECISION_INCOMPLETE,
  giveUpUpdate,
  NOT_AWAITING_DECISION,
  retryDeploymentUpdate,
} from '../workflows/deployment-decision.js';
import { conflict, unprocessable } from './errors.js';

type RequestRow = typeof t.requests.$inferSelect;

/**
 * Sends an operator's decision on a failed deployment to the request's workflow: a new
 * round of attempts (`retry`) or the end of the request (`give_up`). The workflow's
 * update validator decides whether a decision is awaited; the workflow audits it. The
 * caller has checked that the operator may act on the request.
 */
export async function decideDeployment(
  deps: { db: DB; temporal: Client },
  row: RequestRow,
  decision: { action: 'retry' | 'give_up'; by: string; reason: string },
): Promise<RequestRow> {
  const { db, temporal } = deps;
  // Only a software deployment can wait for this decision; other types would only be refused later.
  if (row.type !== 'standard_service' || row.status !== 'awaiting_decision') {
    throw conflict(
      `Request ${row.id} is ${row.status}; only a request whose deployment failed and waits for an operator can be retried or given up.`,
    );
  }
  const update = decision.action === 'retry' ? retryDeploymentUpdate : giveUpUpdate;
  try {
    await temporal.workflow
      .getHandle(row.id)
      .executeUpdate(update, { args: [{ by: decision.by, reason: decision.reason }] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw conflict(`Request ${row.id} has already ended.`);
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    if (type === NOT_AWAITING_DECISION) throw conflict(cause!.message);
    if (type === DECISION_INCOMPLETE) throw unprocessable(cause!.message);
    throw err;
  }
  return db.select().from(t.requests).where(eq(t.requests.id, row.id)).get()!;
}
