// The portal speaks only the public HTTP API, as any other client could. The session is an
// HttpOnly cookie the browser sends by itself; nothing secret is ever stored in the page.

/** The API's problem+json (RFC 9457), thrown for every answer that is not a success. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail);
  }
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      // The API refuses a cookie-authenticated change without it (CSRF protection).
      'x-reqflow-csrf': '1',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const problem = (data ?? {}) as { detail?: string; errors?: { path: string; message: string }[] };
    throw new ApiProblem(res.status, problem.detail ?? `The API answered ${res.status}.`, problem.errors);
  }
  return data as T;
}

const primed = new Map<string, Promise<unknown>>();

/**
 * Starts the GETs the first page makes, all at once, as soon as the code runs: a first load
 * then waits for one round trip to the API, not one per component that mounts in turn.
 */
export function prime(paths: string[]): void {
  for (const path of paths) {
    const answer = api('GET', path);
    // Whoever takes it handles its failure; an answer nobody takes is no error.
    answer.catch(() => undefined);
    primed.set(path, answer);
  }
}

/** Drops primed answers that a sign-in or sign-out made stale. */
export const forgetPrimed = () => primed.clear();

export function get<T>(path: string): Promise<T> {
  const answer = primed.get(path);
  primed.delete(path);
  return (answer as Promise<T> | undefined) ?? api<T>('GET', path);
}
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
  api<T>('POST', path, body ?? {}, headers);

export interface SessionUser {
  id: string;
  name: string;
  roleId: string;
  groups: string[];
  isOperator: boolean;
}
export interface Session {
  user: SessionUser | null;
  signIn: { dev: boolean; oidc: boolean };
}

export interface FormField {
  name: string;
  label: string;
  type: string;
  required: boolean;
  options?: string[];
  help?: string;
}
export interface CatalogItem {
  id: string;
  name: string;
  type: string;
  description: string;
  sensitivity: string;
  changeModel: string | null;
  entitled: boolean;
  formFields: FormField[];
  category?: string | { id: string; name: string } | null;
  /** From `GET /api/catalog/:id` only: the item's service level and its approval levels. */
  sla?: { request?: string } | null;
  approvalPolicy?: ApprovalLevel[] | null;
  accessDuration?: AccessDuration | null;
}
export type ApprovalLevel =
  | { kind: 'manager' }
  | { kind: 'owner' }
  | { kind: 'group'; groupId: string; quorum: 'any' | 'all' | number };

export interface Step {
  name: string;
  kind: 'automated' | 'human' | 'device' | 'waiting';
  state: string;
  startedAt: string;
  endedAt?: string;
  detail?: string;
  attempt?: number;
}
export interface RequestView {
  id: string;
  type: string;
  catalogItemId: string;
  requester: string;
  beneficiary: string;
  deviceId: string | null;
  justification: string | null;
  status: string;
  steps: Step[];
  waitingOn: { what: string; who: string[]; since: string } | null;
  approvals: { kind: string; approver: string; decision: string; comment?: string; decidedAt: string }[];
  outcome: {
    message: string;
    reason?: string;
    launchUrl?: string;
    surveyUrl?: string;
    taskId?: string;
  } | null;
  createdAt: string;
  updatedAt: string;
  fulfilledAt: string | null;
  links: { self: string; temporalUi: string };
}

export interface Task {
  id: string;
  requestId: string | null;
  groupId: string;
  title: string;
  description: string;
  state: string;
  assignee: string | null;
  outcomes: string[] | null;
  awaited: boolean;
  createdAt: string;
  comments: { author: string; body: string; createdAt: string }[];
}

export interface PendingApproval {
  requestId: string;
  level: number;
  approver: string;
  requester: string;
  beneficiary: string;
  catalogItemId: string;
  itemName: string;
  justification: string | null;
  waitingSince: string;
}

/** How long an access item may be held (GET /api/catalog/:id). */
export interface AccessDuration {
  maxDuration?: string;
  choices?: string[];
  untilDate?: boolean;
  required?: boolean;
}

/** GET /api/access/grants: an access grant with its end. */
export interface Grant {
  id: string;
  requestId: string | null;
  securityGroup: string;
  user: string;
  catalogItemId: string | null;
  approvedBy: string[];
  approvedAt: string | null;
  justification: string | null;
  grantedAt: string;
  until: string | null;
  state: 'active' | 'ended';
  ended: { at: string; reason: string; by: string | null; comment: string | null } | null;
  links: { request?: string; renew?: string };
}

/** GET /api/access/reviews/tasks: one holder's access to keep or revoke. */
export interface ReviewItem {
  id: number;
  campaignId: string;
  grantId: string;
  securityGroup: string;
  user: string;
  reviewer: string;
  grant: {
    requestId: string | null;
    approvedBy: string[];
    justification: string | null;
    until: string | null;
  };
}
