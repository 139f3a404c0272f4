// Reads of the CMDB for the API: what a person has (devices they own, hardware assigned to
// them), a device's installed software, and any one CI with its relationships. Its writes are
// in records.ts (CIs and relationships) and changes.ts (change records).
import { and, asc, eq, or, sql } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { listDevices, type DeviceState } from '../devices/index.js';

export type CiClass = (typeof t.cmdbCis.$inferSelect)['ciClass'];

export interface CiRelationship {
  type: string;
  source: string;
  target: string;
  requestId: string | null;
  createdAt: string;
}

export interface CiRecord {
  id: string;
  class: CiClass;
  name: string;
  attributes: Record<string, string | number | boolean | null>;
  createdAt: string;
  updatedAt: string;
  relationships: CiRelationship[];
}

export interface HardwareAsset {
  ciId: string;
  name: string;
  assetTag: string | null;
  requestId: string | null;
  deliveredAt: string | null;
}

export interface InstalledSoftware {
  ciId: string;
  name: string;
  version: string | null;
  installedAt: string | null;
  requestId: string | null;
}

export interface DeviceCi {
  /** Null when the device has no computer CI (enrolled before the CMDB recorded devices). */
  name: string | null;
  installedSoftware: InstalledSoftware[];
  relationships: CiRelationship[];
}

export interface PersonCis {
  userId: string;
  devices: { id: string; name: string; platform: string; state: DeviceState }[];
  assets: HardwareAsset[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** The person the CI concerns: a computer's owner, a hardware asset's holder, installed software's device owner. */
export async function ciHolder(db: DB, ci: CiRecord): Promise<string | null> {
  if (ci.class === 'computer') {
    const owner = await deviceOwner(db, ci.id);
    return owner ?? str(ci.attributes.owner);
  }
  if (ci.class === 'hardware_asset') return str(ci.attributes.assignedTo);
  const on = ci.relationships.find((r) => r.type === 'installed_on' && r.source === ci.id);
  if (!on) return null;
  return (await deviceOwner(db, on.target)) ?? null;
}

async function deviceOwner(db: DB, deviceId: string): Promise<string | undefined> {
  const [device] = await db
    .select({ ownerId: t.devices.ownerId })
    .from(t.devices)
    .where(eq(t.devices.id, deviceId))
    .limit(1);
  return device?.ownerId;
}

/** A CI's relationships, either direction, oldest first. */
async function relationshipsOf(db: DB, id: string): Promise<CiRelationship[]> {
  const rows = await db
    .select()
    .from(t.cmdbRelationships)
    .where(or(eq(t.cmdbRelationships.sourceCiId, id), eq(t.cmdbRelationships.targetCiId, id)))
    .orderBy(asc(t.cmdbRelationships.id));
  return rows.map((r) => ({
    type: r.type,
    source: r.sourceCiId,
    target: r.targetCiId,
    requestId: r.requestId,
    createdAt: r.createdAt,
  }));
}

/** A device's computer CI (if recorded): its name, the software installed on it and its relationships. */
export async function deviceCi(db: DB, deviceId: string): Promise<DeviceCi> {
  const [ci] = await db
    .select({ name: t.cmdbCis.name })
    .from(t.cmdbCis)
    .where(eq(t.cmdbCis.id, deviceId))
    .limit(1);
  const installed = await db
    .select({ ci: t.cmdbCis })
    .from(t.cmdbRelationships)
    .innerJoin(t.cmdbCis, eq(t.cmdbCis.id, t.cmdbRelationships.sourceCiId))
    .where(and(eq(t.cmdbRelationships.targetCiId, deviceId), eq(t.cmdbCis.ciClass, 'software_install')));
  return {
    name: ci?.name ?? null,
    installedSoftware: installed.map(({ ci: s }) => ({
      ciId: s.id,
      name: s.name,
      version: str(s.attributes.version),
      installedAt: str(s.attributes.installedAt),
      requestId: str(s.attributes.requestId),
    })),
    relationships: await relationshipsOf(db, deviceId),
  };
}

export async function getCi(db: DB, id: string): Promise<CiRecord | undefined> {
  const [ci] = await db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, id)).limit(1);
  if (!ci) return undefined;
  return {
    id: ci.id,
    class: ci.ciClass,
    name: ci.name,
    attributes: ci.attributes,
    createdAt: ci.createdAt,
    updatedAt: ci.updatedAt,
    relationships: await relationshipsOf(db, id),
  };
}

/** The devices a person owns and the hardware assets delivered to them, in id order. */
export async function personCis(db: DB, userId: string): Promise<PersonCis> {
  const devices = (await listDevices(db, { ownerId: userId })).map((d) => ({
    id: d.id,
    name: d.name,
    platform: d.platform,
    state: d.state,
  }));
  const assets = await db
    .select()
    .from(t.cmdbCis)
    .where(
      and(eq(t.cmdbCis.ciClass, 'hardware_asset'), eq(sql`${t.cmdbCis.attributes} ->> 'assignedTo'`, userId)),
    )
    .orderBy(asc(t.cmdbCis.id));
  return {
    userId,
    devices,
    assets: assets.map((a) => ({
      ciId: a.id,
      name: a.name,
      assetTag: str(a.attributes.assetTag),
      requestId: str(a.attributes.requestId),
      deliveredAt: str(a.attributes.deliveredAt),
    })),
  };
}
