/**
 * Nothing lost, nothing doubled: what a chaos scenario left behind, counted from the database
 * and the device, against what the same requests leave without faults.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain } from '../audit/verify.js';
import { isFinalStatus } from '../domain/status.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { CHAOS_DEVICE, INSTALL_LEDGER } from './fixtures.js';
import { readRequests, type Planned } from './workload.js';

export interface Findings {
  requests: number;
  /** Final status by status, e.g. { fulfilled: 150, denied: 10 }. */
  finals: Record<string, number>;
  /** Never submitted, never final, or not the ending a fault-free run gives. */
  lost: string[];
  wrong: string[];
  duplicates: {
    requestsPerKey: number;
    notifications: number;
    seats: number;
    cmdbCis: number;
    memberships: number;
    auditEntries: number;
    installs: number;
    jobs: number;
  };
  counts: {
    notifications: number;
    /** Still to be delivered: a worker killed mid-send leaves its message leased for a minute, then it goes again. */
    undelivered: number;
    seats: number;
    cmdbCis: number;
    memberships: number;
    auditEntries: number;
    installs: number;
  };
  auditChain: { ok: boolean; entries: number; detail?: string };
}

const SOFTWARE_GRANT = 'software.installed';

function groupCount<T>(items: T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

const over = (counts: Map<string, number>, limit = 1) => [...counts.values()].filter((n) => n > limit).length;

export async function check(db: DB, dataDir: string, planned: Planned[]): Promise<Findings> {
  const ids = planned.flatMap((p) => (p.id ? [p.id] : []));
  const rows = await readRequests(db, ids);
  const finals: Record<string, number> = {};
  const lost: string[] = [];
  const wrong: string[] = [];
  for (const p of planned) {
    const row = p.id ? rows.get(p.id) : undefined;
    if (!row) {
      lost.push(`${p.key}: no request`);
      continue;
    }
    finals[row.status] = (finals[row.status] ?? 0) + 1;
    if (row.status === p.expected) continue;
    // Not final: it never got to its end. Final but another: it ended differently than without faults.
    (isFinalStatus(row.status) ? wrong : lost).push(
      `${p.key} ${row.id}: ${row.status}, expected ${p.expected}`,
    );
  }
  // SQLite caps the bound parameters of one statement: ask in chunks.
  const chunked = async <R>(values: string[], read: (chunk: string[]) => Promise<R[]>): Promise<R[]> => {
    const out: R[] = [];
    for (let i = 0; i < values.length; i += 500) out.push(...(await read(values.slice(i, i + 500))));
    return out;
  };
  const inChunks = <R>(read: (chunk: string[]) => Promise<R[]>): Promise<R[]> => chunked(ids, read);

  // Every key names one request (the id is derived from requester and key).
  const keyed = await chunked(
    planned.map((p) => p.key),
    (c) =>
      db
        .select({ requester: t.requests.requesterId, key: t.requests.idempotencyKey })
        .from(t.requests)
        .where(inArray(t.requests.idempotencyKey, c)),
  );

  // One notification per key, and no person told the same thing twice about one request.
  const notes = await inChunks((c) =>
    db
      .select({
        key: t.notifications.key,
        to: t.notifications.recipientId,
        request: t.notifications.requestId,
        subject: t.notifications.subject,
        status: t.notifications.status,
      })
      .from(t.notifications)
      .where(inArray(t.notifications.requestId, c)),
  );

  // One seat per request.
  const seats = await inChunks((c) =>
    db.select().from(t.licenseAssignments).where(inArray(t.licenseAssignments.requestId, c)),
  );

  // One software CI per install, one hardware CI per delivered monitor.
  const software = planned.filter((p) => p.kind === 'software' && p.id);
  const relationships = await inChunks((c) =>
    db
      .select()
      .from(t.cmdbRelationships)
      .where(and(inArray(t.cmdbRelationships.requestId, c), eq(t.cmdbRelationships.type, 'installed_on'))),
  );
  const monitors = planned.filter((p) => p.kind === 'monitor' && p.id);
  const hardware = monitors.length
    ? await db
        .select({ id: t.cmdbCis.id })
        .from(t.cmdbCis)
        .where(
          inArray(
            t.cmdbCis.id,
            monitors.map((p) => `HW-AT-${p.id}`),
          ),
        )
    : [];
  const softwareCis = software.length
    ? await db
        .select({ id: t.cmdbCis.id })
        .from(t.cmdbCis)
        .where(
          inArray(
            t.cmdbCis.id,
            software.map((p) => `SW-${CHAOS_DEVICE}-${p.tool}`),
          ),
        )
    : [];

  // One membership per grant: each chaos person asked for access once.
  const members = await inChunks((c) =>
    db.select().from(t.securityGroupMembers).where(inArray(t.securityGroupMembers.requestId, c)),
  );
  const granted = planned.filter(
    (p) =>
      p.id &&
      (p.kind === 'vpn-access' || p.kind === 'finance-approved') &&
      rows.get(p.id)?.status === 'fulfilled',
  );

  // One audit entry per event: the same action on the same subject of one request, once.
  const audit = await inChunks((c) =>
    db
      .select({ request: t.auditLog.requestId, action: t.auditLog.action, subject: t.auditLog.subject })
      .from(t.auditLog)
      .where(inArray(t.auditLog.requestId, c)),
  );
  const chain = await verifyAuditChain(db);

  // The device: every install that completed, from the package's own ledger.
  const ledgerFile = join(dataDir, 'devices', CHAOS_DEVICE, 'root', INSTALL_LEDGER);
  const ledger = existsSync(ledgerFile) ? readFileSync(ledgerFile, 'utf8').split('\n') : [];
  const tools = new Set(software.map((p) => p.tool!));
  const installed = ledger
    .map((line) => /^installed (\S+) /.exec(line)?.[1])
    .filter((tool): tool is string => tool !== undefined && tools.has(tool));
  const jobs = software.length
    ? await db
        .select({ request: t.deploymentJobs.requestId, attempt: t.deploymentJobs.attempt })
        .from(t.deploymentJobs)
        .where(
          inArray(
            t.deploymentJobs.requestId,
            software.map((p) => p.id!),
          ),
        )
    : [];

  /** Each of `done` (requests that ended as expected) must have left its side effect. */
  const missing = (what: string, done: Planned[], has: (p: Planned) => boolean) => {
    const lacking = done.filter((p) => !has(p)).length;
    if (lacking > 0) lost.push(`${lacking} ${what} missing (${done.length - lacking} of ${done.length})`);
  };
  const fulfilledSoftware = software.filter((p) => rows.get(p.id!)?.status === 'fulfilled');
  const swCis = new Set(softwareCis.map((c) => c.id));
  const hwCis = new Set(hardware.map((c) => c.id));
  missing('software seats', fulfilledSoftware, (p) =>
    seats.some((x) => x.requestId === p.id && x.state === 'assigned'),
  );
  missing('software CIs', fulfilledSoftware, (p) => swCis.has(`SW-${CHAOS_DEVICE}-${p.tool}`));
  missing('installed_on relationships', fulfilledSoftware, (p) =>
    relationships.some((r) => r.requestId === p.id),
  );
  missing('installs', fulfilledSoftware, (p) => installed.includes(p.tool!));
  const delivered = monitors.filter((p) => rows.get(p.id!)?.status === 'fulfilled');
  missing('hardware CIs', delivered, (p) => hwCis.has(`HW-AT-${p.id}`));
  missing('memberships', granted, (p) => members.some((m) => m.requestId === p.id));
  const failedNotes = notes.filter((n) => n.status === 'failed').length;
  if (failedNotes > 0) lost.push(`${failedNotes} notifications failed for good`);
  for (const g of granted) {
    if (!audit.some((a) => a.request === g.id && a.action === 'access.granted'))
      lost.push(`${g.key}: no access.granted audit entry`);
  }
  for (const s of fulfilledSoftware) {
    if (!audit.some((a) => a.request === s.id && a.action === SOFTWARE_GRANT))
      lost.push(`${s.key}: no ${SOFTWARE_GRANT} audit entry`);
  }

  return {
    requests: planned.length,
    finals,
    lost,
    wrong,
    duplicates: {
      requestsPerKey: over(groupCount(keyed, (k) => `${k.requester}\n${k.key}`)),
      notifications:
        over(groupCount(notes, (n) => n.key)) +
        over(groupCount(notes, (n) => `${n.request}\n${n.to}\n${n.subject}`)),
      seats: over(groupCount(seats, (s) => s.requestId)),
      cmdbCis: over(groupCount(relationships, (r) => r.requestId ?? '')),
      memberships:
        over(groupCount(members, (m) => `${m.groupId}\n${m.userId}`)) +
        over(groupCount(members, (m) => m.requestId ?? '')),
      auditEntries: over(groupCount(audit, (a) => `${a.request}\n${a.action}\n${a.subject ?? ''}`)),
      installs: over(groupCount(installed, (tool) => tool)),
      jobs: over(groupCount(jobs, (j) => j.request)),
    },
    counts: {
      notifications: notes.length,
      undelivered: notes.filter((n) => n.status === 'pending').length,
      seats: seats.length,
      cmdbCis: softwareCis.length + hardware.length,
      memberships: members.length,
      auditEntries: audit.length,
      installs: installed.length,
    },
    auditChain: chain.ok
      ? { ok: true, entries: chain.entries }
      : { ok: false, entries: chain.entries, detail: `broken at seq ${chain.brokenAt}: ${chain.reason}` },
  };
}

export function clean(f: Findings): boolean {
  return (
    f.lost.length === 0 &&
    f.wrong.length === 0 &&
    Object.values(f.duplicates).every((n) => n === 0) &&
    f.auditChain.ok
  );
}
