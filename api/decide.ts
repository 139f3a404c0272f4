import type { Client } from '@temporalio/client';
import { actingFor } from '../approvals/delegations.js';
import { isApproverOfRecord, pendingApprovalTasks } from '../approvals/tasks.js';
import { findRequest, type RequestRow } from '../requests/index.js';
import type { DB } from '../db/client.js';
import type { Decision } from '../domain/approval.js';
import {
  ALREADY_DECIDED,
  decideUpdate,
  NOT_APPROVER,
  NOT_AWAITING,
  SELF_APPROVAL,
} from './workflow-contract.js';
import { temporalProblem } from './temporal-problems.js';
import { conflict, forbidden, notFound } from './errors.js';
import { currentRequest } from './request-access.js';

export interface DecideInput {
  requestId: string;
  /** The person acting (authenticated user, or the approver a link was issued to). */
  actor: string;
  decision: Decision;
  comment?: string;
  via: 'api' | 'link';
  /** For a link: only this approver's slot may be used. */
  slot?: string;
}

/**
 * Decides on a pending approval. The API resolves who the caller acts for (themselves
 * first, then whoever delegated to them) and which pending slot that is; whether that
 * decision may count (nobody decides a request that benefits them, one vote per person
 * and level) is the workflow's update validator's rule alone, mapped here to 403/409.
 */
export async function decide(db: DB, temporal: Client, input: DecideInput): Promise<RequestRow> {
  const row = await findRequest(db, input.requestId);
  if (!row) throw notFound(`Request ${input.requestId} not found.`);
  const pending = await pendingApprovalTasks(db, row.id);
  const mine = input.slot ? [input.slot] : await actingFor(db, input.actor);
  // Their own slot before a delegator's: deciding as oneself is the plainer record.
  const slot = mine.map((id) => pending.find((p) => p.approverId === id)).find((p) => p !== undefined);
  if (!slot) {
    // An approver whose turn has passed (decided, superseded, expired) gets 409; anyone else 403.
    if (await isApproverOfRecord(db, row.id, mine)) {
      throw conflict(`Request ${row.id} is no longer awaiting your decision (it is ${row.status}).`);
    }
    throw forbidden(`You are not a pending approver of request ${row.id}.`);
  }
  if (row.status !== 'awaiting_approval') {
    throw conflict(`Request ${row.id} is not awaiting approval (it is ${row.status}).`);
  }
  try {
    await temporal.workflow.getHandle(row.id).executeUpdate(decideUpdate, {
      args: [
        {
          decision: input.decision,
          approver: slot.approverId,
          ...(slot.approverId !== input.actor ? { decidedBy: input.actor } : {}),
          ...(input.comment ? { comment: input.comment } : {}),
          via: input.via,
        },
      ],
    });
  } catch (err) {
    throw temporalProblem(err, {
      closed: () => conflict(`Request ${row.id} has already ended.`),
      refused: {
        [NOT_APPROVER]: forbidden,
        [SELF_APPROVAL]: forbidden,
        [ALREADY_DECIDED]: conflict,
        [NOT_AWAITING]: conflict,
      },
    });
  }
  return currentRequest(db, row.id);
}
