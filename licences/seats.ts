import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';

/*
 * The licences aggregate: it alone writes `license_assignments`, the seats requests hold in a
 * licence pool. A seat is reserved before the software is deployed, assigned once it is
 * installed, and released when the request unwinds.
 */

export interface LicenceDeps {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

export interface SeatRequest {
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

/** Why a seat was refused: the activities turn it into a non-retryable failure of the same type. */
export class SeatRefused extends Error {
  constructor(
    readonly type: 'LicensePoolMissing' | 'SeatAlreadyHeld' | 'LicensePoolEmpty' | 'SeatNotReserved',
    message: string,
    readonly details?: { inUse: number; total: number },
  ) {
    super(message);
    this.name = 'SeatRefused';
  }
}

const holding = inArray(t.licenseAssignments.state, ['reserved', 'assigned']);

/** The seat a request holds (reserved or assigned) in a pool. */
function heldSeat(input: { requestId: string; poolId: string }) {
  return and(
    eq(t.licenseAssignments.poolId, input.poolId),
    eq(t.licenseAssignments.requestId, input.requestId),
    holding,
  );
}

/**
 * The seat another request already holds (reserved or assigned) for this person's copy
 * of the software on this device: one device needs one seat, however often it is asked for.
 */
export async function heldElsewhere(
  db: DB | Tx,
  seat: SeatRequest,
): Promise<{ requestId: string; state: string } | undefined> {
  const [held] = await db
    .select({ requestId: t.licenseAssignments.requestId, state: t.licenseAssignments.state })
    .from(t.licenseAssignments)
    .where(
      and(
        eq(t.licenseAssignments.poolId, seat.poolId),
        eq(t.licenseAssignments.userId, seat.userId),
        eq(t.licenseAssignments.deviceId, seat.deviceId),
        ne(t.licenseAssignments.requestId, seat.requestId),
        holding,
      ),
    )
    .limit(1);
  return held;
}

export function createLicenceSeats(deps: LicenceDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  return {
    /**
     * Reserves one seat for the request. Keyed by (pool, request): a retry finds the seat it
     * already holds. The count and the insert run in one transaction so two workers can never
     * hand out the last seat twice (on PostgreSQL, reservations in one pool take turns).
     */
    async reserve(input: SeatRequest): Promise<Seat> {
      return transaction(db, async (tx) => {
        await serialize(tx, `license_pool:${input.poolId}`);
        const [pool] = await tx
          .select()
          .from(t.licensePools)
          .where(eq(t.licensePools.id, input.poolId))
          .limit(1);
        if (!pool) {
          throw new SeatRefused('LicensePoolMissing', `License pool ${input.poolId} does not exist.`);
        }
        const inUse = async () => {
          const [count] = await tx
            .select({ n: sql<number>`count(*)` })
            .from(t.licenseAssignments)
            .where(and(eq(t.licenseAssignments.poolId, pool.id), holding));
          return Number(count?.n ?? 0);
        };
        const [existing] = await tx
          .select()
          .from(t.licenseAssignments)
          .where(
            and(
              eq(t.licenseAssignments.poolId, pool.id),
              eq(t.licenseAssignments.requestId, input.requestId),
            ),
          )
          .limit(1);
        if (existing && existing.state !== 'released') {
          return { seatId: existing.id, inUse: await inUse(), total: pool.totalSeats };
        }
        // Two requests for the same device checked in at once: the second takes no seat.
        const held = await heldElsewhere(tx, { ...input, poolId: pool.id });
        if (held) {
          throw new SeatRefused(
            'SeatAlreadyHeld',
            `${input.userId} already holds a ${pool.product} seat for ${input.deviceId} (request ${held.requestId}, ${held.state}).`,
          );
        }
        const used = await inUse();
        if (used >= pool.totalSeats) {
          throw new SeatRefused(
            'LicensePoolEmpty',
            `No free ${pool.product} license seat: ${used} of ${pool.totalSeats} in use.`,
            { inUse: used, total: pool.totalSeats },
          );
        }
        const [row] = existing
          ? await tx
              .update(t.licenseAssignments)
              .set({ state: 'reserved', reservedAt: now(), releasedAt: null, deviceId: input.deviceId })
              .where(eq(t.licenseAssignments.id, existing.id))
              .returning({ id: t.licenseAssignments.id })
          : await tx
              .insert(t.licenseAssignments)
              .values({
                poolId: pool.id,
                requestId: input.requestId,
                userId: input.userId,
                deviceId: input.deviceId,
                state: 'reserved',
                reservedAt: now(),
              })
              .returning({ id: t.licenseAssignments.id });
        return { seatId: row!.id, inUse: used + 1, total: pool.totalSeats };
      });
    },

    /** Turns the reservation into an assignment once the software is installed. */
    async assign(input: { requestId: string; poolId: string }): Promise<void> {
      const assigned = await db
        .update(t.licenseAssignments)
        .set({ state: 'assigned', assignedAt: now() })
        .where(heldSeat(input))
        .returning({ id: t.licenseAssignments.id });
      if (assigned.length === 0) {
        throw new SeatRefused(
          'SeatNotReserved',
          `Request ${input.requestId} holds no seat in pool ${input.poolId}.`,
        );
      }
    },

    /** Gives the seat back. Releasing twice is a no-op. */
    async release(input: { requestId: string; poolId: string }): Promise<void> {
      await db
        .update(t.licenseAssignments)
        .set({ state: 'released', releasedAt: now() })
        .where(heldSeat(input));
    },
  };
}

export type LicenceSeats = ReturnType<typeof createLicenceSeats>;
