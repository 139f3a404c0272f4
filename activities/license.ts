import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';
import { heldElsewhere } from './entitlement.js';

export interface SeatInput {
  requestId: string;
  poolId: string;
  userId: string;
  deviceId: string;
}

export interface Seat {
  seatId: number;
  inUse: number;
  total: number;
}

/** The seat a request holds (reserved or assigned) in a pool. */
function heldSeat(input: { requestId: string; poolId: string }) {
  return and(
    eq(t.licenseAssignments.poolId, input.poolId),
    eq(t.licenseAssignments.requestId, input.requestId),
    inArray(t.licenseAssignments.state, ['reserved', 'assigned']),
  );
}

export function createLicenseActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /**
     * Reserves one seat for the request. Keyed by (pool, request): a retry finds
     * the seat it already holds. The count and the insert run in one IMMEDIATE
     * transaction so two workers can never hand out the last seat twice.
     */
    async reserveLicenseSeat(input: SeatInput): Promise<Seat> {
      return db.transaction(
        (tx) => {
          const pool = tx.select().from(t.licensePools).where(eq(t.licensePools.id, input.poolId)).get();
          if (!pool) {
            throw ApplicationFailure.create({
              type: 'LicensePoolMissing',
              message: `License pool ${input.poolId} does not exist.`,
              nonRetryable: true,
            });
          }
          const inUse = () =>
            tx
              .select({ n: sql<number>`count(*)` })
              .from(t.licenseAssignments)
              .where(
                and(
                  eq(t.licenseAssignments.poolId, pool.id),
                  inArray(t.licenseAssignments.state, ['reserved', 'assigned']),
                ),
              )
              .get()!.n;
          const existing = tx
            .select()
            .from(t.licenseAssignments)
            .where(
              and(
                eq(t.licenseAssignments.poolId, pool.id),
                eq(t.licenseAssignments.requestId, input.requestId),
              ),
            )
            .get();
          if (existing && existing.state !== 'released') {
            return { seatId: existing.id, inUse: inUse(), total: pool.totalSeats };
          }
          // Two requests for the same device checked in at once: the second takes no seat.
          const held = heldElsewhere(tx, { ...input, poolId: pool.id });
          if (held) {
            throw ApplicationFailure.create({
              type: 'SeatAlreadyHeld',
              message: `${input.userId} already holds a ${pool.product} seat for ${input.deviceId} (request ${held.requestId}, ${held.state}).`,
              nonRetryable: true,
            });
          }
          const used = inUse();
          if (used >= pool.totalSeats) {
            throw ApplicationFailure.create({
              type: 'LicensePoolEmpty',
              message: `No free ${pool.product} license seat: ${used} of ${pool.totalSeats} in use.`,
              nonRetryable: true,
              details: [{ inUse: used, total: pool.totalSeats }],
            });
          }
          const row = existing
            ? tx
                .update(t.licenseAssignments)
                .set({ state: 'reserved', reservedAt: now(), releasedAt: null, deviceId: input.deviceId })
                .where(eq(t.licenseAssignments.id, existing.id))
                .returning()
                .get()
            : tx
                .insert(t.licenseAssignments)
                .values({
                  poolId: pool.id,
                  requestId: input.requestId,
                  userId: input.userId,
                  deviceId: input.deviceId,
                  state: 'reserved',
                  reservedAt: now(),
                })
                .returning()
                .get();
          return { seatId: row.id, inUse: used + 1, total: pool.totalSeats };
        },
        { behavior: 'immediate' },
      );
    },

    /** Turns the reservation into an assignment once the software is installed. */
    async assignLicenseSeat(input: { requestId: string; poolId: string }): Promise<void> {
      const res = db
        .update(t.licenseAssignments)
        .set({ state: 'assigned', assignedAt: now() })
        .where(heldSeat(input))
        .run();
      if (res.changes === 0) {
        throw ApplicationFailure.create({
          type: 'SeatNotReserved',
          message: `Request ${input.requestId} holds no seat in pool ${input.poolId}.`,
          nonRetryable: true,
        });
      }
    },

    /** Compensation: gives the seat back. Releasing twice is a no-op. */
    async releaseLicenseSeat(input: { requestId: string; poolId: string }): Promise<void> {
      db.update(t.licenseAssignments)
        .set({ state: 'released', releasedAt: now() })
        .where(heldSeat(input))
        .run();
    },
  };
}
