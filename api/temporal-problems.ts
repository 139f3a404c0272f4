import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { HttpProblem } from './errors.js';

/** How a route answers the ways a workflow can turn its call down. */
export interface TemporalRefusals {
  /**
   * An update its validator refused, by the ApplicationFailure's type (the failure types
   * in api/workflow-contract.ts); the failure's message becomes the problem's detail.
   */
  refused?: Record<string, (detail: string) => HttpProblem>;
  /** Any refused update whose type `refused` does not name. */
  otherwise?: () => HttpProblem;
  /** The workflow is not running any more (or never ran): nothing can take the call. */
  closed?: () => HttpProblem;
}

/**
 * The one place a Temporal failure becomes a problem response: `throw temporalProblem(err, …)`
 * in a route's catch. What the route did not map is returned as it is, and the error handler
 * answers it as a 500 (masked).
 */
export function temporalProblem(err: unknown, answers: TemporalRefusals): unknown {
  if (err instanceof WorkflowNotFoundError) return answers.closed?.() ?? err;
  if (!(err instanceof WorkflowUpdateFailedError)) return err;
  const cause = err.cause;
  const answer =
    cause instanceof ApplicationFailure && cause.type ? answers.refused?.[cause.type] : undefined;
  if (answer) return answer(cause!.message);
  return answers.otherwise?.() ?? err;
}
