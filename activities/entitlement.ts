import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { heldElsewhere } from '../licences/seats.js';
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

export function createEntitlementActivities({ db }: ActivityDeps) {
  return {
    /** Checks the beneficiary's role against the item and that the device is theirs. */
    async checkEntitlement(input: EntitlementInput): Promise<Entitlement> {
      const item = await itemAsOrdered(db, input.catalogItemId, input.catalogItemVersion);
      if (!item || !item.active) throw notEntitled(`Catalog item ${input.catalogItemId} is not available.`);
      if (item.type !== 'standard_service' || !item.packageId) {
        throw notEntitled(`${item.name} is not software that can be deployed to a device.`);
      }
      const [user] = await db
        .select({ id: t.users.id, active: t.users.active, roleId: t.users.roleId, roleName: t.roles.name })
        .from(t.users)
        .innerJoin(t.roles, eq(t.roles.id, t.users.roleId))
        .where(eq(t.users.id, input.beneficiary))
        .limit(1);
      if (!user || !user.active) throw notEntitled(`User ${input.beneficiary} is not an active user.`);
      const [device] = await db.select().from(t.devices).where(eq(t.devices.id, input.deviceId)).limit(1);
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
        const held = await heldElsewhere(db, {
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
