import type { SlaPolicy } from './sla.js';
import type { RequestStatus, RequestType, StepKind, StepState } from './status.js';

/** One step of a request as a person reads it in `steps[]`. */
export interface RequestStep {
  name: string;
  kind: StepKind;
  state: StepState;
  startedAt: string;
  endedAt?: string;
  detail?: string;
  attempt?: number;
}

/** A decision that allowed (or refused) the request: a person's, or a pre-authorization rule's. */
export interface Approval {
  kind: 'standard_change' | 'cab' | 'manager' | 'owner' | 'group';
  approver: string;
  decision: 'approve' | 'deny';
  comment?: string;
  decidedAt: string;
  /** The approver a delegate decided for. */
  onBehalfOf?: string;
  /** How the decision arrived: the API, an approve/deny link, the CLI. */
  via?: string;
}

export interface RequestOutcome {
  /** A sentence the requester can read. */
  message: string;
  reason?: string;
  launchUrl?: string;
  surveyUrl?: string;
  taskId?: string;
  changeId?: string;
}

/** What a request waits for and on whom, so a person can see where it stands. */
export interface WaitingOn {
  /** e.g. "approval (manager of carol)", "LAPTOP-ALICE to run the install", "task TASK-… (service-desk)". */
  what: string;
  /** User ids or group ids (prefixed `group:`) that can move it forward. */
  who: string[];
  since: string;
}

/**
 * What the workflow knows about its request. The workflow is the truth; this
 * snapshot is what its query returns and what the requests table projects.
 * `version` grows with every change so a late projection write never wins.
 */
export interface RequestSnapshot {
  id: string;
  type: RequestType;
  catalogItemId: string;
  requester: string;
  beneficiary: string;
  status: RequestStatus;
  steps: RequestStep[];
  waitingOn: WaitingOn | null;
  approvals: Approval[];
  outcome: RequestOutcome | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  fulfilledAt: string | null;
}

/** Tunables of the standard-service path; the API fills them from configuration. */
export interface StandardServiceOptions {
  /** How long to wait for the device to report a deployment result (ms-format string, e.g. '24h'). */
  deviceWaitTimeout: string;
  /**
   * How long a failed deployment waits for an operator to retry it or give up before the
   * request ends failed (e.g. '3d'). Unset in requests started before the wait existed.
   */
  decisionTimeout?: string;
  /** Total deployment attempts, the first one included. */
  maxDeployAttempts: number;
  /** How often to look for a free license seat when the pool is empty. */
  seatRetryInterval: string;
  /** How long to keep waiting for a seat before giving up. */
  seatWaitTimeout: string;
}

/** Approval timing (durations like '2d'); the API fills it from configuration. */
export interface ApprovalOptions {
  remindAfter: string;
  escalateAfter: string;
  expireAfter: string;
}

/** What every request workflow is started with; each type adds its own. */
export interface RequestInputBase {
  requestId: string;
  /** Set when this request is part of a bundle. */
  parentId?: string;
  /** Service-level targets of the catalog item (SLA clocks). */
  sla?: SlaPolicy;
  catalogItemId: string;
  /**
   * The item's version when the request was submitted: activities read its policy and form
   * from that version, so a catalog change never alters a request in flight. Unset: the item
   * as it is (requests from before versions).
   */
  catalogItemVersion?: number;
  requester: string;
  beneficiary: string;
  justification?: string;
  /** Approval timing, for types that may need a decision. */
  approval: ApprovalOptions;
}

export interface AccessRequestInput extends RequestInputBase {
  approval: ApprovalOptions;
  /** When the access ends (ISO-8601 UTC); unset: standing access. */
  accessUntil?: string;
  /** The grant this request renews: the item's renewal policy applies, and the old grant hands over. */
  renewalOf?: string;
  /** How long before `accessUntil` the beneficiary is reminded (e.g. '1d'); the API fills it from configuration. */
  remindBefore?: string;
}

export interface ResourceRequestInput extends RequestInputBase {
  /** How long the delivery may take before it is escalated (e.g. '14d'). */
  deliveryTimeout: string;
}

/** One part of a bundle, as the API prepared it: the child workflow to start and its input. */
export interface BundleChild {
  requestId: string;
  catalogItemId: string;
  workflowType: string;
  input: unknown;
}

export interface BundleRequestInput {
  requestId: string;
  /** The bundle item's own type (a starter kit is a resource). */
  type: RequestType;
  catalogItemId: string;
  requester: string;
  beneficiary: string;
  justification?: string;
  sla?: SlaPolicy;
  children: BundleChild[];
}

export interface FeedbackRequestInput extends RequestInputBase {
  /** The service the feedback is about, as the person named it. */
  service: string;
  message: string;
  /** Who triages feedback on a service nobody owns. */
  fallbackGroupId: string;
}

export interface InformationRequestInput extends RequestInputBase {
  /** The question, as the requester asked it. */
  question: string;
  /** Who answers when the knowledge base does not. */
  fulfillmentGroupId: string;
  /** How long the requester may still say an answer did not help (e.g. '3d'). */
  feedbackWindow: string;
}

export interface StandardServiceInput extends RequestInputBase {
  deviceId: string;
  options: StandardServiceOptions;
  approval: ApprovalOptions;
}

/** A device's report of one deployment job, delivered to the workflow as a signal. */
export interface DeploymentReport {
  jobId: string;
  attempt: number;
  succeeded: boolean;
  exitCode: number | null;
  outcome: 'succeeded' | 'already_installed' | 'failed' | 'timed_out';
  outputTail: string;
  finishedAt: string;
}

/**
 * Stands for the requester's signed survey link in a notification's links. The workflow
 * passes this reference and the notify activity signs the link as it writes the outbox
 * row, so the token never enters a workflow history.
 */
export const SURVEY_LINK_REF = 'reqflow:survey-link';
