import { and, asc, eq, isNotNull } from 'drizzle-orm';
import { appendAuditEntry } from '../audit/log.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';
import { hashDeviceToken } from './tokens.js';

/**
 * `enrolled`: holds a working device token. `unenrolled`: an operator revoked it.
 * `not_enrolled`: known to the inventory but no agent was ever given a token.
 */
export const DEVICE_STATES = ['enrolled', 'unenrolled', 'not_enrolled'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export interface DeviceRecord {
  id: string;
  name: string;
  ownerId: string;
  platform: string;
  hostname: string | null;
  enrolledAt: string | null;
  unenrolledAt: string | null;
  lastSeenAt: string | null;
  state: DeviceState;
}

type DeviceRow = typeof t.devices.$inferSelect;

function toRecord(row: DeviceRow): DeviceRecord {
  const state = row.tokenHash ? 'enrolled' : row.unenrolledAt ? 'unenrolled' : 'not_enrolled';
  return {
    id: row.id,
    name: row.name,
    ownerId: row.ownerId,
    platform: row.platform,
    hostname: row.hostname,
    enrolledAt: row.enrolledAt,
    unenrolledAt: row.unenrolledAt,
    lastSeenAt: row.lastSeenAt,
    state,
  };
}

/** The device a bearer token belongs to; undefined for an unknown or revoked token. */
export async function findDeviceByToken(db: DB, token: string): Promise<{ id: string } | undefined> {
  const [device] = await db
    .select({ id: t.devices.id })
    .from(t.devices)
    .where(eq(t.devices.tokenHash, hashDeviceToken(token)))
    .limit(1);
  return device;
}

/** Whether the device still holds a token: a long poll checks it so an unenrolled agent learns at once. */
export async function isEnrolled(db: DB, deviceId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: t.devices.id })
    .from(t.devices)
    .where(and(eq(t.devices.id, deviceId), isNotNull(t.devices.tokenHash)))
    .limit(1);
  return row !== undefined;
}

export async function recordDeviceSeen(db: DB, deviceId: string, at: Date = new Date()): Promise<void> {
  await db.update(t.devices).set({ lastSeenAt: at.toISOString() }).where(eq(t.devices.id, deviceId));
}

export async function getDevice(db: DB, deviceId: string): Promise<DeviceRecord | undefined> {
  const [row] = await db.select().from(t.devices).where(eq(t.devices.id, deviceId)).limit(1);
  return row && toRecord(row);
}

/** Devices in id order, optionally one owner's. */
export async function listDevices(db: DB, filter: { ownerId?: string } = {}): Promise<DeviceRecord[]> {
  const rows = await db
    .select()
    .from(t.devices)
    .where(filter.ownerId ? eq(t.devices.ownerId, filter.ownerId) : undefined)
    .orderBy(asc(t.devices.id));
  return rows.map(toRecord);
}

export interface UnenrollInput {
  deviceId: string;
  /** The operator, for the audit trail. */
  actor: string;
  reason: string;
}

/**
 * Revokes the device's token (only its hash was stored; clearing it is the revocation) and
 * marks it unenrolled; its history, CMDB CI and installed software stay. Jobs still queued
 * for it are left as they are: no agent can fetch them any more, so each request's device
 * wait runs out and escalates to the service desk, as for a device that never connects.
 * Unenrolling an unenrolled device changes nothing and is not audited again.
 */
export async function unenrollDevice(
  db: DB,
  input: UnenrollInput,
  now: Date = new Date(),
): Promise<DeviceRecord | undefined> {
  const at = now.toISOString();
  return transaction(db, async (tx) => {
    // Audited: the audit chain's lock first, so every writer takes its locks in one order.
    await serialize(tx, 'audit_log');
    const [device] = await tx.select().from(t.devices).where(eq(t.devices.id, input.deviceId)).limit(1);
    if (!device) return undefined;
    if (device.unenrolledAt && !device.tokenHash) return toRecord(device);
    const [updated] = await tx
      .update(t.devices)
      .set({ tokenHash: null, unenrolledAt: at })
      .where(eq(t.devices.id, device.id))
      .returning();
    await appendAuditEntry(tx, at, {
      key: `device.unenrolled:${device.id}:${at}`,
      actor: input.actor,
      action: 'device.unenrolled',
      subject: device.id,
      details: { ownerId: device.ownerId, reason: input.reason, hadToken: device.tokenHash !== null },
    });
    return toRecord(updated!);
  });
}
