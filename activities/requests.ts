import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
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
  catalogItemVersion?: number;
}

/**
 * A finished request that was undone afterwards (a fulfilled item of a cancelled bundle):
 * its workflow has ended and cannot say so itself, so the projection records it, in the
 * caller's transaction, with a step and the outcome a reader sees.
 */
export function recordRequestUndoneIn(
  tx: Tx,
  input: { requestId: string; step: string; message: string; at: string },
): void {
  const row = tx.select().from(t.requests).where(eq(t.requests.id, input.requestId)).get();
  if (!row || row.status === 'cancelled') return;
  tx.update(t.requests)
    .set({
      status: 'cancelled',
      steps: [
        ...row.steps,
        {
          name: input.step,
          kind: 'automated',
          state: 'compensated',
          startedAt: input.at,
          endedAt: input.at,
          detail: input.message,
        },
      ],
      waitingOn: null,
      outcome: { message: input.message },
      version: row.version + 1,
      updatedAt: input.at,
    })
    .where(eq(t.requests.id, input.requestId))
    .run();
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
      catalogItemVersion,
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
          catalogItemVersion: catalogItemVersion ?? null,
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
