// Approval policies and decisions, shared by the approval building block (workflow
// side), the activities that resolve approvers, and the API. Dependency-free.

/** Who must approve, level by level; every level must pass before the next starts. */
export type ApprovalLevel =
  /** The beneficiary's manager (the requester's when not on behalf of someone). */
  | { kind: 'manager' }
  /** The catalog item's service owner. */
  | { kind: 'owner' }
  /** Members of a group; `quorum` approvals needed: any one, all, or a number. */
  | { kind: 'group'; groupId: string; quorum: 'any' | 'all' | number };

export type ApprovalPolicy = ApprovalLevel[];

export type Decision = 'approve' | 'deny';

export interface DecisionInput {
  decision: Decision;
  /** The pending approver whose decision this is. */
  approver: string;
  /** Who acted, when not the approver: their delegate. */
  decidedBy?: string;
  comment?: string;
  /** How the decision arrived, for the audit trail. */
  via?: 'api' | 'link' | 'cli';
}

/** The approvers of one level as the activities resolved them. */
export interface ResolvedLevel {
  level: number;
  label: string;
  approvers: string[];
  /** Approvals needed to pass the level. */
  required: number;
  /** Why someone was skipped or substituted (inactive, missing, the requester), for steps[]. */
  notes: string[];
}

/** Someone who can no longer decide: the directory deactivated or removed them. */
export interface ApproverDeactivation {
  approver: string;
  /** Completes "<approver> …" in the step detail, e.g. "was deactivated in the directory". */
  reason: string;
}
