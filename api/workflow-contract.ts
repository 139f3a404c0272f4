/*
 * What the API may say to the workflows, in one place: the updates and signals it sends,
 * the workflows it starts by reference, and the failure types their update validators
 * refuse with. The definitions live beside their workflows (the worker bundles them from
 * there); the API imports them from here only, so this file is the whole contract.
 */
export {
  ALREADY_DECIDED,
  approverDeactivatedSignal,
  decideUpdate,
  NOT_APPROVER,
  NOT_AWAITING,
  SELF_APPROVAL,
} from '../workflows/approval.js';
export { grantEndedSignal } from '../workflows/access-grant.js';
export {
  DECISION_INCOMPLETE,
  giveUpUpdate,
  NOT_AWAITING_DECISION,
  retryDeploymentUpdate,
} from '../workflows/deployment-decision.js';
export { NOT_REVIEWER, REVIEW_CLOSED, reviewDecisionUpdate } from '../workflows/access-review.js';
export { answerFeedbackUpdate } from '../workflows/information.js';
export { completeTaskUpdate, TASK_NOT_AWAITED, TASK_OUTCOME_REFUSED } from '../workflows/manual-task.js';
export { monthlyReport } from '../workflows/monthly-report.js';
export { admissionUpdate } from '../workflows/request-tracker.js';
export { deploymentResultSignal } from '../workflows/standard-service.js';
