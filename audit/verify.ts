import { asc, gt, sql } from 'drizzle-orm';
import { setImmediate } from 'node:timers/promises';
import { auditHash, GENESIS_HASH } from './log.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/** When broken, `entries` counts the entries that checked out before `brokenAt`, the seq of the first bad one. */
export type AuditChainResult =
  | { ok: true; entries: number; lastHash: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

// Big enough that a walk costs few queries, small enough that a log of millions never sits in memory.
const PAGE_SIZE = 1000;

/** One stored entry with `details` as the raw column text (see auditEntries). */
type StoredEntry = Omit<typeof t.auditLog.$inferSelect, 'details'> & { details: string };

/**
 * The log in seq order, one page at a time (keyset paging: each page starts after the
 * last seq seen, so a page never rereads rows). `details` is read as text rather than
 * through drizzle's JSON mode: a tampered value that is not JSON must become a finding
 * about its entry, not an exception that hides which entry it was.
 */
async function* auditPages(db: DB): AsyncGenerator<StoredEntry[]> {
  let after: number | undefined;
  for (;;) {
    const page = await db
      .select({
        seq: t.auditLog.seq,
        key: t.auditLog.key,
        at: t.auditLog.at,
        actor: t.auditLog.actor,
        action: t.auditLog.action,
        requestId: t.auditLog.requestId,
        subject: t.auditLog.subject,
        // PostgreSQL's driver would parse a json column: the hash covers the text as stored.
        details: sql<string>`cast(${t.auditLog.details} as text)`,
        prevHash: t.auditLog.prevHash,
        hash: t.auditLog.hash,
      })
      .from(t.auditLog)
      .where(after === undefined ? undefined : gt(t.auditLog.seq, after))
      .orderBy(asc(t.auditLog.seq))
      .limit(PAGE_SIZE);
    yield page;
    const last = page.at(-1);
    if (!last || page.length < PAGE_SIZE) return;
    after = last.seq;
  }
}

function parseDetails(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The walk's state: feed entries in seq order; the first bad one gives the finding. */
function chainCheck() {
  let entries = 0;
  let prevHash = GENESIS_HASH;
  const broken = (brokenAt: number, reason: string): AuditChainResult => ({
    ok: false,
    entries,
    brokenAt,
    reason,
  });

  const check = (entry: StoredEntry): AuditChainResult | undefined => {
    const expected = entries + 1;
    // appendAudit numbers entries 1, 2, 3... inside one IMMEDIATE transaction, so a gap is a deletion.
    if (entry.seq > expected) return broken(expected, `entry ${expected} is missing (deleted?)`);
    if (entry.seq < expected) return broken(entry.seq, `entry ${entry.seq} is out of sequence (inserted?)`);
    if (entry.prevHash !== prevHash) {
      const previous = entry.seq === 1 ? 'the start of the log' : `entry ${entry.seq - 1}`;
      return broken(entry.seq, `entry ${entry.seq}: prevHash does not match ${previous}`);
    }
    const details = parseDetails(entry.details);
    if (!details) {
      return broken(
        entry.seq,
        `entry ${entry.seq}: details are not a JSON object (changed after it was written)`,
      );
    }
    if (auditHash({ ...entry, details }) !== entry.hash) {
      return broken(
        entry.seq,
        `entry ${entry.seq}: content does not match its hash (changed after it was written)`,
      );
    }
    entries += 1;
    prevHash = entry.hash;
    return undefined;
  };
  return { check, result: (): AuditChainResult => ({ ok: true, entries, lastHash: prevHash }) };
}

/**
 * Walks the hash-chained audit log and names the first entry that was deleted, changed
 * or re-chained. The triggers of migration 0002 stop ordinary writes; this catches
 * whoever dropped them first. A chain alone cannot notice the newest entries being cut
 * off (or re-forged from the end): record `lastHash` somewhere else to detect that.
 *
 * It yields to the event loop after each page (better-sqlite3 answers a query without
 * doing so), so an API process serves other requests while a long chain is walked.
 * Entries appended meanwhile are walked too.
 */
export async function verifyAuditChain(db: DB): Promise<AuditChainResult> {
  const chain = chainCheck();
  for await (const page of auditPages(db)) {
    for (const entry of page) {
      const broken = chain.check(entry);
      if (broken) return broken;
    }
    await setImmediate();
  }
  return chain.result();
}
