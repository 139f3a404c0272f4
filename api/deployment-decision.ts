import type { Client } from '@temporalio/client';
import type { DB } from '../db/client.js';
import type * as t from '../db/schema.js';
import { conflict, unprocessable } from './errors.js';
import { currentRequest } from './request-access.js';
import { temporalProblem } from './temporal-problems.js';
import {
  DECISION_INCOMPLETE,
  giveUpUpdate,
  NOT_AWAITING_DECISION,
  retryDeploymentUpdate,
} from './workflow-contract.js';

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
    throw temporalProblem(err, {
      closed: () => conflict(`Request ${row.id} has already ended.`),
      refused: { [NOT_AWAITING_DECISION]: conflict, [DECISION_INCOMPLETE]: unprocessable },
    });
  }
  return currentRequest(db, row.id);
}
