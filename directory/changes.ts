import { randomUUID } from 'node:crypto';
import { appendAuditEntrySync, type AuditWriter } from '../audit/log.js';
import type { DB } from '../db/client.js';

export interface DirectoryDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
  /**
   * Other aggregates that act when a person is deactivated (access marked revokeOnLeave is
   * revoked) join the change's transaction here, so the deactivation and what follows from it
   * commit together.
   */
  onDeactivated?: (tx: AuditWriter, at: string, userId: string) => void;
}

/** The database or the transaction of a change: reads work on either. */
export type Reader = AuditWriter;

/** One change to the directory in progress: its transaction, its time, and its audit trail. */
export interface Change {
  tx: AuditWriter;
  /** ISO-8601 UTC; every row and audit entry of the change carries the same time. */
  at: string;
  audit(action: string, subject: string, details: Record<string, unknown>): void;
  /** The person was deactivated in this change. */
  deactivated(userId: string): void;
}

/**
 * Runs `fn` as one change: a single IMMEDIATE transaction holding the rows it writes and
 * the audit entries that record them, so a crash leaves both or neither. `actor` is who
 * the trail names: `scim` (the identity provider), `seed`, or an operator's id.
 */
export function change<T>(deps: DirectoryDeps, actor: string, fn: (c: Change) => T): T {
  const at = (deps.now?.() ?? new Date()).toISOString();
  return deps.db.transaction(
    (tx) =>
      fn({
        tx,
        at,
        audit: (action, subject, details) => {
          // A change is written once (its transaction commits or not), so a fresh key per entry suffices.
          appendAuditEntrySync(tx, at, {
            key: `directory:${action}:${subject}:${randomUUID()}`,
            actor,
            action,
            subject,
            details,
          });
        },
        deactivated: (userId) => deps.onDeactivated?.(tx, at, userId),
      }),
    { behavior: 'immediate' },
  );
}
