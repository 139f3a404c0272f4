import { createHash } from 'node:crypto';

/** The part of a request id after `REQ-`, reused in the ids of its changes, jobs and tasks. */
export function requestSuffix(requestId: string): string {
  return requestId.replace(/^REQ-/, '');
}

/** A short stable id for an idempotency key, for rows a retried activity must find again. */
export function stableId(prefix: string, key: string): string {
  return `${prefix}-${createHash('sha256').update(key).digest('hex').slice(0, 10).toUpperCase()}`;
}
