import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, ne } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { itemAsOrdered } from '../service-catalog/items.js';
import type { ApprovalPolicy } from '../domain/approval.js';
import type { ChangeModel } from '../domain/status.js';
import type { ActivityDeps } from './deps.js';

export interface EntitlementInput {
  requestId: string;
  catalogItemId: string;
  /** The version the request was submitted against (its roles, package and policy). */
  catalogItemVersion?: number;
  beneficiary: string;
  deviceId: string;
}

export interface Entitlement {
  itemName: string;
  changeModel: ChangeModel;
  packageId: string;
  licensePoolId: string | null;
  launchUrl: string | null;
  fulfillmentGroupId: string;
  /** Who authorizes a Normal Change; empty for a pre-authorized Standard Change. */
  approvalPolicy: ApprovalPolicy;
  /** Why the beneficiary is entitled, for steps[] and the audit trail. */
  basis: string;
}

/** Business refusals: final, so Temporal does not retry them. */
export function notEntitled(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'NotEntitled', message, nonRetryable: true });
}

/**
 * The seat another request already holds (reserved or assigned) for this person's copy
 * of the software on this device: one device needs one seat, however often it is asked for.
 */
export function heldElsewhere(
  db: Pick<ActivityDeps['db'], 'select'>,
  seat: { poolId: string; userId: string; deviceId: string; requestId: string },
): { requestId: string; state: string } | undefined {
  return db
    .select({ requestId: t.licenseAssignments.requestId, state: t.licenseAssignments.state })
    .from(t.licenseAssignments)
    .where(
      and(
        eq(t.licenseAssignments.poolId, seat.poolId),
        eq(t.licenseAssignments.userId, seat.userId),
        eq(t.licenseAssignments.deviceId, seat.deviceId),
        ne(t.licenseAssignments.requestId, seat.requestId),
        inArray(t.licenseAssignments.state, ['reserved', 'assigned']),
      ),
    )
    .get();
}

export function createEntitlementActivities({ db }: ActivityDeps) {
  return {
    /** Checks the beneficiary's role against the item and that the device is theirs. */
    async checkEntitlement(input: EntitlementInput): Promise<Entitlement> {
      const item = await itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      if (!item || !item.active) throw notEntitled(`Catalog item ${input.catalogItemId} is not available.`);
      if (item.type !== 'standard_service' || !item.packageId) {
        throw notEntitled(`${item.name} is not software that can be deployed to a device.`);
      }
      const user = db
        .select({ id: t.users.id, active: t.users.active, roleId: t.users.roleId, roleName: t.roles.name })
        .from(t.users)
        .innerJoin(t.roles, eq(t.roles.id, t.users.roleId))
        .where(eq(t.users.id, input.beneficiary))
        .get();
      if (!user || !user.active) throw notEntitled(`User ${input.beneficiary} is not an active user.`);
      const device = db.select().from(t.devices).where(eq(t.devices.id, input.deviceId)).get();
      if (!device || device.ownerId !== user.id) {
        throw notEntitled(`Device ${input.deviceId} is not registered to ${user.id}.`);
      }
      const allowed = item.allowedRoles;
      if (allowed && !allowed.includes(user.roleId)) {
        throw notEntitled(
          `Your role (${user.roleName}) is not entitled to ${item.name}; it is available to: ${allowed.join(', ')}. ` +
            `Ask your manager to request a role change, or contact the service desk.`,
        );
      }
      if (item.licensePoolId) {
        const held = heldElsewhere(db, {
          poolId: item.licensePoolId,
          userId: user.id,
          deviceId: device.id,
          requestId: input.requestId,
        });
        if (held) {
          throw notEntitled(
            `${user.id} already holds a ${item.name} seat for ${device.id} (request ${held.requestId}, ${held.state}); ` +
              `this request takes no second seat.`,
          );
        }
      }
      return {
        itemName: item.name,
        changeModel: item.changeModel ?? 'normal',
        packageId: item.packageId,
        licensePoolId: item.licensePoolId,
        launchUrl: item.launchUrl,
        fulfillmentGroupId: item.fulfillmentGroupId ?? 'service-desk',
        approvalPolicy:
          item.changeModel === 'standard'
            ? []
            : (item.approvalPolicy ?? [{ kind: 'group', groupId: 'cab', quorum: 'any' }]),
        basis: allowed ? `role ${user.roleId} is entitled to ${item.id}` : `${item.id} is open to every role`,
      };
    },
  };
}
