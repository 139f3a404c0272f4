import { eq } from 'drizzle-orm';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';

/*
 * The CMDB's writes: this module alone writes `cmdb_cis` and `cmdb_relationships`. A device
 * is recorded as a computer CI when it enrolls, installed software is related `installed_on`
 * it, and delivered hardware becomes an asset CI of the person it was delivered to. Each
 * write upserts by the CI's id, so a retried activity records once.
 */

export interface ComputerCi {
  deviceId: string;
  name: string;
  ownerId: string;
  platform: string;
  hostname: string;
  at: string;
}

export interface SoftwareInstall {
  requestId: string;
  deviceId: string;
  packageId: string;
  product: string;
  version: string;
  at: string;
}

export interface HardwareAsset {
  requestId: string;
  assetTag: string;
  product: string;
  assignedTo: string;
  at: string;
}

export function softwareCiId(deviceId: string, packageId: string): string {
  return `SW-${deviceId}-${packageId}`;
}

export function hardwareCiId(assetTag: string): string {
  return `HW-${assetTag}`;
}

/**
 * Records a newly enrolled device as a computer CI, inside the enrollment's transaction:
 * software is later related `installed_on` it, so the device must never exist without it.
 */
export async function recordComputerIn(tx: Tx, input: ComputerCi): Promise<void> {
  await tx.insert(t.cmdbCis).values({
    id: input.deviceId,
    ciClass: 'computer',
    name: input.name,
    attributes: { owner: input.ownerId, platform: input.platform, hostname: input.hostname },
    createdAt: input.at,
    updatedAt: input.at,
  });
}

/** The installed software as a CI related `installed_on` the device's CI, both or neither. */
export async function recordSoftwareInstall(db: DB, input: SoftwareInstall): Promise<{ ciId: string }> {
  const ciId = softwareCiId(input.deviceId, input.packageId);
  const { at } = input;
  await transaction(db, async (tx) => {
    const [device] = await tx
      .select({ id: t.cmdbCis.id })
      .from(t.cmdbCis)
      .where(eq(t.cmdbCis.id, input.deviceId))
      .limit(1);
    if (!device) throw new Error(`device CI ${input.deviceId} is missing from the CMDB`);
    const attributes = {
      product: input.product,
      packageId: input.packageId,
      version: input.version,
      installedAt: at,
      requestId: input.requestId,
    };
    await tx
      .insert(t.cmdbCis)
      .values({
        id: ciId,
        ciClass: 'software_install',
        name: input.product,
        attributes,
        createdAt: at,
        updatedAt: at,
      })
      .onConflictDoUpdate({ target: t.cmdbCis.id, set: { attributes, updatedAt: at } });
    await tx
      .insert(t.cmdbRelationships)
      .values({
        sourceCiId: ciId,
        targetCiId: input.deviceId,
        type: 'installed_on',
        requestId: input.requestId,
      })
      .onConflictDoNothing();
  });
  return { ciId };
}

/** The delivered asset as a CI assigned to its user. Upserts by asset tag. */
export async function recordHardwareAsset(db: DB, input: HardwareAsset): Promise<{ ciId: string }> {
  const ciId = hardwareCiId(input.assetTag);
  const { at } = input;
  const attributes = {
    product: input.product,
    assetTag: input.assetTag,
    assignedTo: input.assignedTo,
    requestId: input.requestId,
    deliveredAt: at,
  };
  await db
    .insert(t.cmdbCis)
    .values({
      id: ciId,
      ciClass: 'hardware_asset',
      name: input.product,
      attributes,
      createdAt: at,
      updatedAt: at,
    })
    .onConflictDoUpdate({ target: t.cmdbCis.id, set: { attributes, updatedAt: at } });
  return { ciId };
}
