import { sql } from 'drizzle-orm';
import * as t from '../db/schema.js';
import type { RequestSnapshot } from '../domain/request.js';
import type { ActivityDeps } from './deps.js';

export interface SyncRequestInput {
  snapshot: RequestSnapshot;
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
     */
    async syncRequest({ snapshot: s, deviceId, justification, parentId }: SyncRequestInput): Promise<void> {
      const values = {
        status: s.status,
        steps: s.steps,
        waitingOn: s.waitingOn,
        approvals: s.approvals,
        outcome: s.outcome,
        version: s.version,
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
          setWhere: sql`excluded.version > ${t.requests.version}`,
        })
        .run();
    },
  };
}
