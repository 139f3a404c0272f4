import { eq } from 'drizzle-orm';
import { recordHardwareAsset } from '../cmdb/records.js';
import * as t from '../db/schema.js';
import { advanceOrder, cancelOrder, placeOrder } from '../procurement/orders.js';
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
      const [user] = await db.select().from(t.users).where(eq(t.users.id, input.beneficiary)).limit(1);
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
      await placeOrder(db, { id, ...input, at: now() });
      return { orderId: id };
    },

    /** Moves the order forward (shipped, delivered); never backwards, never out of `cancelled`. */
    async advanceProcurementOrder(input: {
      orderId: string;
      state: 'shipped' | 'delivered';
      assetTag?: string;
    }): Promise<void> {
      await advanceOrder(db, { ...input, at: now() });
    },

    /** Compensation: cancels an order that was not delivered. */
    async cancelProcurementOrder(input: { orderId: string }): Promise<void> {
      await cancelOrder(db, { ...input, at: now() });
    },

    /** The delivered asset becomes a CI assigned to its user. Upserts by asset tag. */
    async recordHardwareAsset(input: {
      requestId: string;
      assetTag: string;
      product: string;
      assignedTo: string;
    }): Promise<{ ciId: string }> {
      return recordHardwareAsset(db, { ...input, at: now() });
    },
  };
}
