// Reads of the CMDB for the API: what a person has (devices they own, hardware assigned to
// them) and any one CI with its relationships. The workflows' activities write it.
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

export interface PersonCis {
  userId: string;
  devices: { id: string; name: string; platform: string; state: DeviceState }[];
  assets: HardwareAsset[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** The person the CI concerns: a computer's owner, a hardware asset's holder, installed software's device owner. */
export async function ciHolder(db: DB, ci: CiRecord): Promise<string | null> {
  if (ci.class === 'computer') {
    const device = db
      .select({ ownerId: t.devices.ownerId })
      .from(t.devices)
      .where(eq(t.devices.id, ci.id))
      .get();
    return device?.ownerId ?? str(ci.attributes.owner);
  }
  if (ci.class === 'hardware_asset') return str(ci.attributes.assignedTo);
  const on = ci.relationships.find((r) => r.type === 'installed_on' && r.source === ci.id);
  if (!on) return null;
  const device = db
    .select({ ownerId: t.devices.ownerId })
    .from(t.devices)
    .where(eq(t.devices.id, on.target))
    .get();
  return device?.ownerId ?? null;
}

export async function getCi(db: DB, id: string): Promise<CiRecord | undefined> {
  const ci = db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, id)).get();
  if (!ci) return undefined;
  const relationships = db
    .select()
    .from(t.cmdbRelationships)
    .where(or(eq(t.cmdbRelationships.sourceCiId, id), eq(t.cmdbRelationships.targetCiId, id)))
    .orderBy(asc(t.cmdbRelationships.id))
    .all();
  return {
    id: ci.id,
    class: ci.ciClass,
    name: ci.name,
    attributes: ci.attributes,
    createdAt: ci.createdAt,
    updatedAt: ci.updatedAt,
    relationships: relationships.map((r) => ({
      type: r.type,
      source: r.sourceCiId,
      target: r.targetCiId,
      requestId: r.requestId,
      createdAt: r.createdAt,
    })),
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
  const assets = db
    .select()
    .from(t.cmdbCis)
    .where(
      and(
        eq(t.cmdbCis.ciClass, 'hardware_asset'),
        eq(sql`json_extract(${t.cmdbCis.attributes}, '$.assignedTo')`, userId),
      ),
    )
    .orderBy(asc(t.cmdbCis.id))
    .all();
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
