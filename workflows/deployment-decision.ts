import { ApplicationFailure, condition, defineUpdate, setHandler } from '@temporalio/workflow';
import type { RequestSnapshot } from '../domain/request.js';
import type { RequestTracker } from './request-tracker.js';

/** An operator's decision on a failed deployment: who decided, and why (for the audit trail). */
export interface DeploymentDecisionInput {
  by: string;
  reason: string;
}

/** Start a new round of deployment attempts (attempt numbers go on from the failed round). */
export const retryDeploymentUpdate = defineUpdate<RequestSnapshot, [DeploymentDecisionInput]>(
  'retryDeployment',
);

/** End the request as failed with the operator's reason; nothing is retried. */
export const giveUpUpdate = defineUpdate<RequestSnapshot, [DeploymentDecisionInput]>('giveUp');

/** The validator's refusal when the request does not wait for a decision (the API answers 409). */
export const NOT_AWAITING_DECISION = 'NotAwaitingDeploymentDecision';
/** The validator's refusal of a decision without a person or a reason. */
export const DECISION_INCOMPLETE = 'DeploymentDecisionIncomplete';

export type DeploymentDecision =
  { action: 'retry' | 'give_up'; by: string; reason: string } | { action: 'timed_out' };

/** Who may decide; the API lets only operators send the updates. */
const OPERATORS = 'group:operators';

/**
 * A failed software deployment waits here for an operator: retry (a new round) or give up.
 * The wait is a durable timer; when it runs out nobody decided and the caller ends the
 * request as before the wait existed. The updates are registered for the whole run, and
 * the validator refuses them, before anything is written to history, unless a decision
 * is awaited right now and none has been taken.
 */
export class DeploymentDecisions {
  private awaiting = false;
  private decision: { action: 'retry' | 'give_up'; by: string; reason: string } | undefined;

  constructor(
    private readonly tracker: RequestTracker,
    private readonly requestId: string,
  ) {
    const validator = (d: DeploymentDecisionInput) => {
      if (!this.awaiting || this.decision) {
        throw ApplicationFailure.create({
          type: NOT_AWAITING_DECISION,
          message: `Request ${this.requestId} is not waiting for a decision on a failed deployment.`,
        });
      }
      if (!d.by?.trim() || !d.reason?.trim()) {
        throw ApplicationFailure.create({
          type: DECISION_INCOMPLETE,
          message: 'A decision on a failed deployment names who took it and why.',
        });
      }
    };
    setHandler(retryDeploymentUpdate, (d) => this.decide('retry', d), { validator });
    setHandler(giveUpUpdate, (d) => this.decide('give_up', d), { validator });
  }

  private async decide(action: 'retry' | 'give_up', d: DeploymentDecisionInput): Promise<RequestSnapshot> {
    this.decision = { action, by: d.by, reason: d.reason };
    // Answer once the workflow has taken the decision up, so the caller sees the request move on.
    await condition(() => !this.awaiting);
    return this.tracker.snapshot;
  }

  /** The decision taken so far (a method, so the compiler does not narrow it across the wait). */
  private taken() {
    return this.decision;
  }

  /**
   * Says the request awaits an operator (status, a `human` step, who is awaited) and
   * waits up to `timeout` for a decision.
   */
  async wait(failure: string, timeout: string): Promise<DeploymentDecision> {
    this.decision = undefined;
    this.awaiting = true;
    try {
      const step = await this.tracker.enterWait('awaiting_decision', () =>
        this.tracker.startWait(
          'operator_decision',
          'human',
          `${failure} Waiting up to ${timeout} for an operator to retry the deployment or give up.`,
          { what: 'an operator to retry the deployment or give up', who: [OPERATORS] },
        ),
      );
      await condition(() => this.decision !== undefined, timeout);
      // A decision accepted in the same activation as the timer firing still counts.
      const d = this.taken();
      if (!d) {
        await this.tracker.updateStep(step, {
          state: 'failed',
          detail: `Nobody retried the deployment or gave up within ${timeout}.`,
          waitingOn: { what: null },
        });
        return { action: 'timed_out' };
      }
      await this.tracker.updateStep(step, {
        state: 'completed',
        detail: `${d.by} ${d.action === 'retry' ? 'retried the deployment' : 'gave up'}: ${d.reason}`,
        waitingOn: { what: null },
      });
      return d;
    } finally {
      this.awaiting = false;
    }
  }
}
