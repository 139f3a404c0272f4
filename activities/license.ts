import { ApplicationFailure } from '@temporalio/activity';
import { createLicenceSeats, SeatRefused, type Seat, type SeatRequest } from '../licences/seats.js';
import type { ActivityDeps } from './deps.js';

/** A refused seat is a business outcome: final, so Temporal does not retry it. */
async function orFailure<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof SeatRefused) {
      throw ApplicationFailure.create({
        type: err.type,
        message: err.message,
        nonRetryable: true,
        ...(err.details ? { details: [err.details] } : {}),
      });
    }
    throw err;
  }
}

/** Thin adapters over the licences aggregate (licences/seats.ts). */
export function createLicenseActivities(deps: ActivityDeps) {
  const seats = createLicenceSeats(deps);
  return {
    /** Reserves one seat for the request; a retry finds the seat it already holds. */
    async reserveLicenseSeat(input: SeatRequest): Promise<Seat> {
      return orFailure(seats.reserve(input));
    },

    /** Turns the reservation into an assignment once the software is installed. */
    async assignLicenseSeat(input: { requestId: string; poolId: string }): Promise<void> {
      await orFailure(seats.assign(input));
    },

    /** Compensation: gives the seat back. Releasing twice is a no-op. */
    async releaseLicenseSeat(input: { requestId: string; poolId: string }): Promise<void> {
      await seats.release(input);
    },
  };
}
