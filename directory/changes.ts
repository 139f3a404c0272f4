import { randomUUID } from 'node:crypto';
import { appendAuditEntry } from '../audit/log.js';
import type { DB, Tx } from '../db/client.js';
import { serialize, transaction } from '../db/transaction.js';

export interface DirectoryDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
  /**
   * Other aggregates that act when a person is deactivated (access marked revokeOnLeave is
   * revoked) join the change's transaction here, so the deactivation and what follows from it
   * commit together. Like the rest of a transaction body, it awaits only database calls.
   */
  onDeactivated?: (tx: Tx, at: string, userId: string) => Promise<void>;
}

/** The database or the transaction of a change: reads work on either. */
export type Reader = DB | Tx;

/** One change to the directory in progress: its transaction, its time, and its audit trail. */
export interface Change {
  tx: Tx;
  /** ISO-8601 UTC; every row and audit entry of the change carries the same time. */
  at: string;
  audit(action: string, subject: string, details: Record<string, unknown>): Promise<void>;
  /** The person was deactivated in this change. */
  deactivated(userId: string): Promise<void>;
}

/**
 * Runs `fn` as one change: a single transaction holding the rows it writes and the audit
 * entries that record them, so a crash leaves both or neither. A change made inside another
 * module's transaction (the catalog's apply) joins it. `actor` is who the trail names:
 * `scim` (the identity provider), `seed`, or an operator's id.
 */
export async function change<T>(
  deps: DirectoryDeps,
  actor: string,
  fn: (c: Change) => Promise<T>,
): Promise<T> {
  const at = (deps.now?.() ?? new Date()).toISOString();
  return transaction(deps.db, async (tx) => {
    // Every change appends to the audit chain: taking its lock first also runs directory
    // changes one at a time on PostgreSQL, as SQLite does, so a read-then-write stays true.
    await serialize(tx, 'audit_log');
    return fn({
      tx,
      at,
      audit: async (action, subject, details) => {
        // A change is written once (its transaction commits or not), so a fresh key per entry suffices.
        await appendAuditEntry(tx, at, {
          key: `directory:${action}:${subject}:${randomUUID()}`,
          actor,
          action,
          subject,
          details,
        });
      },
      deactivated: async (userId) => {
        await deps.onDeactivated?.(tx, at, userId);
      },
    });
  });
}
