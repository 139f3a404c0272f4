import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';

export interface SoftwareInstallInput {
  requestId: string;
  deviceId: string;
  packageId: string;
  product: string;
  version: string;
}

export function softwareCiId(deviceId: string, packageId: string): string {
  return `SW-${deviceId}-${packageId}`;
}

export interface ComputerCi {
  deviceId: string;
  name: string;
  ownerId: string;
  platform: string;
  hostname: string;
  at: string;
}

/**
 * Records a newly enrolled device as a computer CI, inside the enrollment's transaction:
 * software is later related `installed_on` it, so the device must never exist without it.
 */
export function recordComputerIn(tx: Tx, input: ComputerCi): void {
  tx.insert(t.cmdbCis)
    .values({
      id: input.deviceId,
      ciClass: 'computer',
      name: input.name,
      attributes: { owner: input.ownerId, platform: input.platform, hostname: input.hostname },
      createdAt: input.at,
      updatedAt: input.at,
    })
    .run();
}

export function createCmdbActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** Records the installed software as a CI related `installed_on` the device CI. Upserts, so retries are safe. */
    async recordSoftwareInstall(input: SoftwareInstallInput): Promise<{ ciId: string }> {
      const ciId = softwareCiId(input.deviceId, input.packageId);
      const at = now();
      db.transaction((tx) => {
        const device = tx
          .select({ id: t.cmdbCis.id })
          .from(t.cmdbCis)
          .where(eq(t.cmdbCis.id, input.deviceId))
          .get();
        if (!device) throw new Error(`device CI ${input.deviceId} is missing from the CMDB`);
        const attributes = {
          product: input.product,
          packageId: input.packageId,
          version: input.version,
          installedAt: at,
          requestId: input.requestId,
        };
        tx.insert(t.cmdbCis)
          .values({
            id: ciId,
            ciClass: 'software_install',
            name: input.product,
            attributes,
            createdAt: at,
            updatedAt: at,
          })
          .onConflictDoUpdate({ target: t.cmdbCis.id, set: { attributes, updatedAt: at } })
          .run();
        tx.insert(t.cmdbRelationships)
          .values({
            sourceCiId: ciId,
            targetCiId: input.deviceId,
            type: 'installed_on',
            requestId: input.requestId,
          })
          .onConflictDoNothing()
          .run();
      });
      return { ciId };
    },
  };
}
