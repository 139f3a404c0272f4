import { and, eq, inArray } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { itemAsOrdered } from '../service-catalog/items.js';
import type { ApprovalPolicy } from '../domain/approval.js';
import { clock, type ActivityDeps } from './deps.js';
import { notEntitled } from './entitlement.js';
import { requestSuffix } from './ids.js';

export interface ResourceItem {
  itemName: string;
  unitCostCents: number;
  fulfillmentGroupId: string;
  approvalPolicy: ApprovalPolicy;
}

export function createProcurementActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** What is being asked for, what it costs, who delivers it and who approves. */
    async checkResourceItem(input: {
      catalogItemId: string;
      catalogItemVersion?: number;
      beneficiary: string;
    }): Promise<ResourceItem> {
      const item = await itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      if (!item || !item.active || item.type !== 'resource') {
        throw notEntitled(`Catalog item ${input.catalogItemId} is not a resource that can be ordered.`);
      }
      const user = db.select().from(t.users).where(eq(t.users.id, input.beneficiary)).get();
      if (!user?.active) throw notEntitled(`User ${input.beneficiary} is not an active user.`);
      return {
        itemName: item.name,
        unitCostCents: item.unitCostCents ?? 0,
        fulfillmentGroupId: item.fulfillmentGroupId ?? 'procurement',
        approvalPolicy: item.approvalPolicy ?? [{ kind: 'manager' }],
      };
    },

    /** Records the purchase order; one per request, so a retry returns the same order. */
    async placeProcurementOrder(input: {
      requestId: string;
      item: string;
      costCents: number;
    }): Promise<{ orderId: string }> {
      const id = `PO-${requestSuffix(input.requestId)}`;
      db.insert(t.procurementOrders)
        .values({
          id,
          requestId: input.requestId,
          item: input.item,
          costCents: input.costCents,
          state: 'ordered',
          createdAt: now(),
          updatedAt: now(),
        })
        .onConflictDoNothing({ target: t.procurementOrders.requestId })
        .run();
      return { orderId: id };
    },

    /** Moves the order forward (shipped, delivered); never backwards, never out of `cancelled`. */
    async advanceProcurementOrder(input: {
      orderId: string;
      state: 'shipped' | 'delivered';
      assetTag?: string;
    }): Promise<void> {
      const from = input.state === 'shipped' ? ['ordered'] : ['ordered', 'shipped'];
      db.update(t.procurementOrders)
        .set({
          state: input.state,
          updatedAt: now(),
          ...(input.assetTag ? { assetTag: input.assetTag } : {}),
        })
        .where(
          and(
            eq(t.procurementOrders.id, input.orderId),
            inArray(t.procurementOrders.state, from as ['ordered']),
          ),
        )
        .run();
    },

    /** Compensation: cancels an order that was not delivered. */
    async cancelProcurementOrder(input: { orderId: string }): Promise<void> {
      db.update(t.procurementOrders)
        .set({ state: 'cancelled', updatedAt: now() })
        .where(
          and(
            eq(t.procurementOrders.id, input.orderId),
            inArray(t.procurementOrders.state, ['ordered', 'shipped']),
          ),
        )
        .run();
    },

    /** The delivered asset becomes a CI assigned to its user. Upserts by asset tag. */
    async recordHardwareAsset(input: {
      requestId: string;
      assetTag: string;
      product: string;
      assignedTo: string;
    }): Promise<{ ciId: string }> {
      const ciId = `HW-${input.assetTag}`;
      const at = now();
      const attributes = {
        product: input.product,
        assetTag: input.assetTag,
        assignedTo: input.assignedTo,
        requestId: input.requestId,
        deliveredAt: at,
      };
      db.insert(t.cmdbCis)
        .values({
          id: ciId,
          ciClass: 'hardware_asset',
          name: input.product,
          attributes,
          createdAt: at,
          updatedAt: at,
        })
        .onConflictDoUpdate({ target: t.cmdbCis.id, set: { attributes, updatedAt: at } })
        .run();
      return { ciId };
    },
  };
}
