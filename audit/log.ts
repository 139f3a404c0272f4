import { createHash } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';

/*
 * The audit aggregate: this module alone writes `audit_log`, an append-only, hash-chained
 * log (the database refuses updates and deletes by trigger). Other aggregates append
 * inside their own transaction with appendAuditEntry, so an entry commits with the change
 * it records; everyone else calls appendAudit.
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

/** The link after `last` (the first link when there is none). */
function nextEntry(last: AuditRow | undefined, at: string, input: AuditInput): AuditRow {
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
  return { ...entry, hash: auditHash(entry) };
}

/** The database, or a transaction on it: the audit aggregate's writes work on either. */
export type AuditWriter = Tx;

/**
 * Appends inside the caller's transaction, so an entry commits together with the change
 * it records, or not at all. It takes the chain's lock (`serialize`) before it reads the
 * last link, so concurrent appenders chain in order on PostgreSQL too (SQLite's
 * transactions run one at a time). A transaction that also locks rows should call
 * `serialize(tx, 'audit_log')` first thing, so that every transaction takes the locks in
 * the same order and none waits on another in a cycle.
 */
export async function appendAuditEntry(tx: AuditWriter, at: string, input: AuditInput): Promise<AuditRow> {
  await serialize(tx, 'audit_log');
  const [existing] = await tx.select().from(t.auditLog).where(eq(t.auditLog.key, input.key)).limit(1);
  if (existing) return existing;
  const [last] = await tx.select().from(t.auditLog).orderBy(desc(t.auditLog.seq)).limit(1);
  const row = nextEntry(last, at, input);
  await tx.insert(t.auditLog).values(row);
  return row;
}

/** Appends to the hash-chained audit log, in a transaction of its own (or the caller's, when one is open). */
export async function appendAudit(db: DB, at: string, input: AuditInput): Promise<AuditRow> {
  return transaction(db, (tx) => appendAuditEntry(tx, at, input));
}
