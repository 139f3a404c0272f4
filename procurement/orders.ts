import { and, eq, inArray } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * Purchase orders for hardware and other resources: this module alone writes
 * `procurement_orders`. An order moves ordered → shipped → delivered, or is cancelled before
 * delivery; never backwards. It is its own aggregate, not part of the CMDB: an order is a
 * commercial record with its own lifecycle, and only what it delivers becomes a CI.
 */

export type OrderState = (typeof t.procurementOrders.$inferSelect)['state'];

/** Records the purchase order; one per request, so a retry keeps the first. */
export async function placeOrder(
  db: DB,
  input: { id: string; requestId: string; item: string; costCents: number; at: string },
): Promise<void> {
  await db
    .insert(t.procurementOrders)
    .values({
      id: input.id,
      requestId: input.requestId,
      item: input.item,
      costCents: input.costCents,
      state: 'ordered',
      createdAt: input.at,
      updatedAt: input.at,
    })
    .onConflictDoNothing({ target: t.procurementOrders.requestId });
}

/** Moves the order forward (shipped, delivered); never backwards, never out of `cancelled`. */
export async function advanceOrder(
  db: DB,
  input: { orderId: string; state: 'shipped' | 'delivered'; assetTag?: string; at: string },
): Promise<void> {
  const from: OrderState[] = input.state === 'shipped' ? ['ordered'] : ['ordered', 'shipped'];
  await db
    .update(t.procurementOrders)
    .set({ state: input.state, updatedAt: input.at, ...(input.assetTag ? { assetTag: input.assetTag } : {}) })
    .where(and(eq(t.procurementOrders.id, input.orderId), inArray(t.procurementOrders.state, from)));
}

/** Cancels an order that was not delivered. */
export async function cancelOrder(db: DB, input: { orderId: string; at: string }): Promise<void> {
  await db
    .update(t.procurementOrders)
    .set({ state: 'cancelled', updatedAt: input.at })
    .where(
      and(
        eq(t.procurementOrders.id, input.orderId),
        inArray(t.procurementOrders.state, ['ordered', 'shipped']),
      ),
    );
}
