import { createHash } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';

export interface AuditInput {
  /** Idempotency key: a retried activity appends once. */
  key: string;
  actor: string;
  action: string;
  requestId?: string;
  subject?: string;
  details?: Record<string, unknown>;
}

export const GENESIS_HASH = '0'.repeat(64);

type AuditRow = typeof t.auditLog.$inferSelect;

/** The hash of one entry covers its content and the previous entry's hash. */
export function auditHash(row: Omit<AuditRow, 'hash'>): string {
  const content = JSON.stringify([
    row.seq,
    row.key,
    row.at,
    row.actor,
    row.action,
    row.requestId ?? null,
    row.subject ?? null,
    row.details,
    row.prevHash,
  ]);
  return createHash('sha256').update(content).digest('hex');
}

/** Appends to the hash-chained audit log. IMMEDIATE so concurrent writers chain in order. */
export function appendAudit(db: DB, at: string, input: AuditInput): AuditRow {
  return db.transaction((tx) => appendAuditIn(tx, at, input), { behavior: 'immediate' });
}

/**
 * Appends inside the caller's transaction, so the entry commits (or rolls back) with the
 * change it records. Make the caller's transaction IMMEDIATE: a deferred one that reads first
 * fails with SQLITE_BUSY when another process appended in between.
 */
export function appendAuditIn(tx: Tx, at: string, input: AuditInput): AuditRow {
  const existing = tx.select().from(t.auditLog).where(eq(t.auditLog.key, input.key)).get();
  if (existing) return existing;
  const last = tx.select().from(t.auditLog).orderBy(desc(t.auditLog.seq)).limit(1).get();
  const entry = {
    seq: (last?.seq ?? 0) + 1,
    key: input.key,
    at,
    actor: input.actor,
    action: input.action,
    requestId: input.requestId ?? null,
    subject: input.subject ?? null,
    details: input.details ?? {},
    prevHash: last?.hash ?? GENESIS_HASH,
  };
  const row = { ...entry, hash: auditHash(entry) };
  tx.insert(t.auditLog).values(row).run();
  return row;
}

export function createAuditActivities(deps: ActivityDeps) {
  const now = clock(deps);
  return {
    async recordAudit(input: AuditInput): Promise<{ seq: number }> {
      return { seq: appendAudit(deps.db, now(), input).seq };
    },
  };
}
