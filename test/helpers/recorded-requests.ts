import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import type { RequestStep } from '../../domain/request.js';
import type { RequestStatus, RequestType, StepKind } from '../../domain/status.js';

// Requests with known recorded times, for the figures computed from them (metrics, reports).

export const at = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();

/** A completed step of `kind` from `from` to `to` milliseconds after `base`. */
export const step = (
  name: string,
  kind: StepKind,
  base: string,
  from: number,
  to: number,
  attempt?: number,
): RequestStep => ({
  name,
  kind,
  state: 'completed',
  startedAt: at(base, from),
  endedAt: at(base, to),
  ...(attempt ? { attempt } : {}),
});

/** A request of alice's, fulfilled `tookMs` after `createdAt` (null: not fulfilled). */
export async function insertRequest(
  db: DB,
  r: {
    id: string;
    createdAt: string;
    status: RequestStatus;
    tookMs: number | null;
    steps?: RequestStep[];
    item?: { type: RequestType; catalogItemId: string };
  },
): Promise<void> {
  await db.insert(t.requests).values({
    id: r.id,
    ...(r.item ?? { type: 'standard_service', catalogItemId: 'visio' }),
    requesterId: 'alice',
    beneficiaryId: 'alice',
    status: r.status,
    steps: r.steps ?? [],
    fingerprint: '',
    createdAt: r.createdAt,
    updatedAt: r.createdAt,
    fulfilledAt: r.tookMs === null ? null : at(r.createdAt, r.tookMs),
  });
}
