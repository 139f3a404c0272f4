import { sql } from 'drizzle-orm';
import * as t from '../db/schema.js';
import type { RequestSnapshot } from '../domain/request.js';
import type { ActivityDeps } from './deps.js';

export interface SyncRequestInput {
  snapshot: RequestSnapshot;
  /** The workflow run that took the snapshot (an operator's reset starts a new one). */
  runId?: string;
  deviceId?: string;
  justification?: string;
  parentId?: string;
}

export function createRequestActivities({ db }: ActivityDeps) {
  return {
    /**
     * Projects the workflow's snapshot into the requests table, which listings and
     * GET /api/requests/:id read. Writes carry the snapshot version and an older
     * version never overwrites a newer one, so retries and reordering are harmless.
     * A reset run starts over from an earlier, lower version: a write from another
     * run than the stored one always lands (the old run has ended by then).
     */
    async syncRequest({
      snapshot: s,
      runId,
      deviceId,
      justification,
      parentId,
    }: SyncRequestInput): Promise<void> {
      const values = {
        status: s.status,
        steps: s.steps,
        waitingOn: s.waitingOn,
        approvals: s.approvals,
        outcome: s.outcome,
        version: s.version,
        runId: runId ?? null,
        updatedAt: s.updatedAt,
        fulfilledAt: s.fulfilledAt,
      };
      db.insert(t.requests)
        .values({
          id: s.id,
          type: s.type,
          catalogItemId: s.catalogItemId,
          requesterId: s.requester,
          beneficiaryId: s.beneficiary,
          deviceId: deviceId ?? null,
          justification: justification ?? null,
          parentId: parentId ?? null,
          // Started outside the API (e.g. by an operator with the CLI): no submitted body to compare.
          fingerprint: '',
          createdAt: s.createdAt,
          ...values,
        })
        .onConflictDoUpdate({
          target: t.requests.id,
          set: values,
          setWhere: sql`excluded.version > ${t.requests.version} OR excluded.run_id IS NOT ${t.requests.runId}`,
        })
        .run();
    },
  };
}
