import { and, eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { ChangeModel, ChangeState } from '../domain/status.js';

/*
 * Change records (ITIL change enablement): this module alone writes `changes`. A deployment
 * is carried by one change per request, opened when it starts and closed with its outcome.
 */

export interface OpenChange {
  /** The change's id (`CHG-…`), kept when the request's change exists already. */
  id: string;
  requestId: string;
  catalogItemId: string;
  model: ChangeModel;
  summary: string;
  at: string;
}

/** Records the change that carries a request's deployment. One per request: returns the id it has. */
export async function openChange(db: DB, input: OpenChange): Promise<{ changeId: string }> {
  await db
    .insert(t.changes)
    .values({
      id: input.id,
      requestId: input.requestId,
      catalogItemId: input.catalogItemId,
      model: input.model,
      preAuthorized: input.model === 'standard',
      state: 'implementing',
      summary: input.summary,
      openedAt: input.at,
    })
    .onConflictDoNothing({ target: t.changes.requestId });
  const [row] = await db
    .select({ id: t.changes.id })
    .from(t.changes)
    .where(eq(t.changes.requestId, input.requestId))
    .limit(1);
  return { changeId: row!.id };
}

/** Closes the request's change; a change already closed keeps its first outcome. */
export async function closeChange(
  db: DB,
  input: { requestId: string; state: Exclude<ChangeState, 'implementing'>; note: string; at: string },
): Promise<void> {
  await db
    .update(t.changes)
    .set({ state: input.state, closedAt: input.at, closeNote: input.note })
    .where(and(eq(t.changes.requestId, input.requestId), eq(t.changes.state, 'implementing')));
}

/** A failed change is implementing again when an operator retries its deployment. */
export async function reopenFailedChange(db: DB, requestId: string): Promise<void> {
  await db
    .update(t.changes)
    .set({ state: 'implementing', closedAt: null, closeNote: null })
    .where(and(eq(t.changes.requestId, requestId), eq(t.changes.state, 'closed_failed')));
}
