import type { RunResult } from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * The audit aggregate: this module alone writes `audit_log`, an append-only, hash-chained
 * log (the database refuses updates and deletes by trigger). Other aggregates append
 * inside their own transaction with appendAuditEntry, so an entry commits with the change
 * it records; everyone else calls recordAudit.
 */

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

/** The database, or a transaction on it: the audit aggregate's writes work on either. */
export type AuditWriter = BaseSQLiteDatabase<'sync', RunResult, typeof t>;

/**
 * Appends inside the caller's transaction, so an entry commits together with the change
 * it records, or not at all. The transaction must be IMMEDIATE: entries chain in order
 * only while no other writer can append between the read of the last entry and the insert.
 */
export function appendAuditEntry(tx: AuditWriter, at: string, input: AuditInput): AuditRow {
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

/** Appends to the hash-chained audit log. IMMEDIATE so concurrent writers chain in order. */
export function appendAudit(db: DB, at: string, input: AuditInput): AuditRow {
  return db.transaction((tx) => appendAuditEntry(tx, at, input), { behavior: 'immediate' });
}

/** appendAudit for callers that do not hold a transaction: async, like the other aggregates. */
export async function recordAudit(db: DB, at: string, input: AuditInput): Promise<AuditRow> {
  return appendAudit(db, at, input);
}
