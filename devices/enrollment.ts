import { and, eq, isNull, sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { appendAuditEntry } from '../audit/log.js';
import { recordComputerIn } from '../cmdb/records.js';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';
import { DeviceRefusedError } from './errors.js';
import { hashDeviceToken, newToken } from './tokens.js';

/** An enrollment token lives a day unless the operator says otherwise... */
export const DEFAULT_ENROLLMENT_SECONDS = 24 * 60 * 60;
/** ...at least a minute, and never more than a week: it is a bearer credential in a chat or a ticket. */
export const MIN_ENROLLMENT_SECONDS = 60;
export const MAX_ENROLLMENT_SECONDS = 7 * 24 * 60 * 60;

/** Device ids become directory names on the device and appear in the CMDB: short and plain. */
const MAX_DEVICE_ID = 60;

export interface IssueEnrollmentInput {
  ownerId: string;
  /** The operator issuing it. */
  createdBy: string;
  expiresInSeconds?: number;
}

export interface IssuedEnrollment {
  id: string;
  /** Shown once: only its hash is stored. */
  token: string;
  ownerId: string;
  expiresAt: string;
}

export interface EnrollInput {
  hostname: string;
  platform: string;
  /** The id the agent asks for; the hostname's first label when absent. */
  deviceId?: string;
}

export interface EnrolledDevice {
  deviceId: string;
  /** The device's own token; only its hash is stored. */
  token: string;
  ownerId: string;
}

async function isActiveUser(tx: Tx | DB, userId: string): Promise<boolean> {
  const [user] = await tx
    .select({ id: t.users.id })
    .from(t.users)
    .where(and(eq(t.users.id, userId), eq(t.users.active, true), isNull(t.users.removedAt)))
    .limit(1);
  return user !== undefined;
}

/** Issues a single-use enrollment token for a device that `ownerId` will own. */
export async function issueEnrollment(
  db: DB,
  input: IssueEnrollmentInput,
  now: Date = new Date(),
): Promise<IssuedEnrollment> {
  const seconds = input.expiresInSeconds ?? DEFAULT_ENROLLMENT_SECONDS;
  if (!Number.isInteger(seconds) || seconds < MIN_ENROLLMENT_SECONDS || seconds > MAX_ENROLLMENT_SECONDS) {
    throw new RangeError(
      `expiresInSeconds must be an integer from ${MIN_ENROLLMENT_SECONDS} to ${MAX_ENROLLMENT_SECONDS}`,
    );
  }
  const at = now.toISOString();
  const expiresAt = new Date(now.getTime() + seconds * 1000).toISOString();
  const id = `ENR-${randomBytes(6).toString('hex').toUpperCase()}`;
  const token = newToken();
  await transaction(db, async (tx) => {
    // Audited: the audit chain's lock first, so every writer takes its locks in one order.
    await serialize(tx, 'audit_log');
    if (!(await isActiveUser(tx, input.ownerId))) {
      throw new DeviceRefusedError('owner_unknown', `Unknown or inactive user "${input.ownerId}".`);
    }
    await tx.insert(t.deviceEnrollments).values({
      id,
      tokenHash: hashDeviceToken(token),
      ownerId: input.ownerId,
      createdBy: input.createdBy,
      createdAt: at,
      expiresAt,
    });
    await appendAuditEntry(tx, at, {
      key: `device.enrollment_issued:${id}`,
      actor: input.createdBy,
      action: 'device.enrollment_issued',
      subject: id,
      details: { ownerId: input.ownerId, expiresAt },
    });
  });
  return { id, token, ownerId: input.ownerId, expiresAt };
}

/**
 * The id a device asks for (or its hostname's first label), upper-cased, with anything
 * but letters, digits and single dashes replaced: `alice-laptop.corp.example` is
 * `ALICE-LAPTOP`, `my_pc 2` is `MY-PC-2`.
 */
export function deviceIdFor(input: Pick<EnrollInput, 'hostname' | 'deviceId'>): string {
  const wanted = input.deviceId?.trim() || input.hostname.trim().split('.')[0] || '';
  const id = wanted
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_DEVICE_ID)
    .replace(/-+$/, '');
  return id || 'DEVICE';
}

/** `base`, else `base-2`, `base-3`...: free among devices and CMDB CIs (a device is a CI by its id). */
async function freeDeviceId(tx: Tx, base: string): Promise<string> {
  const taken = async (id: string) =>
    (
      await tx
        .select({ id: t.devices.id })
        .from(t.devices)
        .where(sql`lower(${t.devices.id}) = lower(${id})`)
        .limit(1)
    ).length > 0 ||
    (
      await tx
        .select({ id: t.cmdbCis.id })
        .from(t.cmdbCis)
        .where(sql`lower(${t.cmdbCis.id}) = lower(${id})`)
        .limit(1)
    ).length > 0;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await taken(candidate))) return candidate;
  }
}

/**
 * Spends an enrollment token: creates the device for the token's owner (and its CMDB CI),
 * issues the device its own token and marks the enrollment used, all in one transaction,
 * so of two agents presenting the same token exactly one gets a device.
 */
export async function enrollDevice(
  db: DB,
  enrollmentToken: string,
  input: EnrollInput,
  now: Date = new Date(),
): Promise<EnrolledDevice> {
  const at = now.toISOString();
  const token = newToken();
  return transaction(db, async (tx) => {
    // Audited: the audit chain's lock first, so every writer takes its locks in one order.
    await serialize(tx, 'audit_log');
    const [enrollment] = await tx
      .select()
      .from(t.deviceEnrollments)
      .where(eq(t.deviceEnrollments.tokenHash, hashDeviceToken(enrollmentToken)))
      .limit(1);
    if (!enrollment) throw new DeviceRefusedError('token_unknown', 'Unknown enrollment token.');
    if (enrollment.usedAt) {
      throw new DeviceRefusedError(
        'token_used',
        `This enrollment token was already used (device ${enrollment.deviceId} at ${enrollment.usedAt}); ` +
          'enrollment tokens work once: ask an operator for a new one.',
      );
    }
    if (enrollment.expiresAt <= at) {
      throw new DeviceRefusedError(
        'token_expired',
        `This enrollment token expired at ${enrollment.expiresAt}; ask an operator for a new one.`,
      );
    }
    if (!(await isActiveUser(tx, enrollment.ownerId))) {
      throw new DeviceRefusedError(
        'owner_inactive',
        `The device's owner ${enrollment.ownerId} is no longer an active user.`,
      );
    }
    const deviceId = await freeDeviceId(tx, deviceIdFor(input));
    await tx.insert(t.devices).values({
      id: deviceId,
      name: input.hostname,
      ownerId: enrollment.ownerId,
      platform: input.platform,
      tokenHash: hashDeviceToken(token),
      hostname: input.hostname,
      enrolledAt: at,
    });
    await recordComputerIn(tx, {
      deviceId,
      name: input.hostname,
      ownerId: enrollment.ownerId,
      platform: input.platform,
      hostname: input.hostname,
      at,
    });
    // SQLite's transactions already run one at a time; on PostgreSQL two spenders may both have
    // read the enrollment unused, and this guarded update lets exactly one of them through.
    const spent = await tx
      .update(t.deviceEnrollments)
      .set({ usedAt: at, deviceId })
      .where(and(eq(t.deviceEnrollments.id, enrollment.id), isNull(t.deviceEnrollments.usedAt)))
      .returning({ id: t.deviceEnrollments.id });
    if (spent.length !== 1) {
      throw new DeviceRefusedError('token_used', 'This enrollment token was already used.');
    }
    await appendAuditEntry(tx, at, {
      key: `device.enrolled:${deviceId}:${at}`,
      actor: `device:${deviceId}`,
      action: 'device.enrolled',
      subject: deviceId,
      details: {
        ownerId: enrollment.ownerId,
        hostname: input.hostname,
        platform: input.platform,
        enrollmentId: enrollment.id,
        issuedBy: enrollment.createdBy,
      },
    });
    return { deviceId, token, ownerId: enrollment.ownerId };
  });
}
