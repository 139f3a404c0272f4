// One vocabulary for request state, shared by workflows (queries, search attributes),
// the drizzle schema (text enums) and the API schemas. Dependency-free so the
// workflow bundle can import it.

export const REQUEST_TYPES = ['information', 'access', 'resource', 'standard_service', 'feedback'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export const REQUEST_STATUSES = [
  'submitted',
  'checking_entitlement',
  'awaiting_approval',
  'approved',
  'fulfilling',
  'awaiting_task',
  'awaiting_decision',
  'fulfilled',
  'rejected',
  'denied',
  'cancelled',
  'failed',
  'expired',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const FINAL_STATUSES: readonly RequestStatus[] = [
  'fulfilled',
  'rejected',
  'denied',
  'cancelled',
  'failed',
  'expired',
];

export function isFinalStatus(status: RequestStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export const STEP_STATES = ['running', 'waiting', 'completed', 'failed', 'skipped', 'compensated'] as const;
export type StepState = (typeof STEP_STATES)[number];

/**
 * What a step is, set by the code that opens it: the system doing something
 * (`automated`), a person deciding or doing something (`human`), a device running a
 * job (`device`), or the request waiting on time or a resource (`waiting`). Metrics
 * read this rather than guessing from step names.
 */
export const STEP_KINDS = ['automated', 'human', 'device', 'waiting'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const CHANGE_MODELS = ['standard', 'normal'] as const;
export type ChangeModel = (typeof CHANGE_MODELS)[number];

export const CHANGE_STATES = ['implementing', 'closed_successful', 'closed_failed', 'cancelled'] as const;
export type ChangeState = (typeof CHANGE_STATES)[number];

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'expired'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const JOB_ACTIONS = ['install', 'uninstall'] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

export const SEAT_STATES = ['reserved', 'assigned', 'released'] as const;
export type SeatState = (typeof SEAT_STATES)[number];

export const TASK_STATES = ['open', 'claimed', 'completed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];
