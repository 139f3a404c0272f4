import { eq } from 'drizzle-orm';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { appendAuditEntry } from '../audit/log.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';
import { hashDeviceToken, newToken } from './tokens.js';

/** Where an agent on this machine keeps a device's token by default (`npm run agent` reads it). */
export function deviceTokenFile(dataDir: string, deviceId: string): string {
  return join(dataDir, 'devices', deviceId, 'agent.token');
}

/** Owner-only (directory 0700, file 0600), written whole: a reader never sees half a token. */
function writeTokenFile(file: string, token: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(dirname(file), 0o700);
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${token}\n`, { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, file);
}

/**
 * Gives a device on this machine a working token, for the embedded stack's own laptop
 * (and tests): keeps its token file while it still matches the stored hash, otherwise
 * issues a new token, enrolling the device again if an operator had unenrolled it (the
 * person who runs `npm start` owns that demo laptop). Audited whenever a token is issued.
 */
export async function ensureDeviceToken(
  db: DB,
  dataDir: string,
  deviceId: string,
  now: Date = new Date(),
): Promise<string> {
  const file = deviceTokenFile(dataDir, deviceId);
  const [device] = await db.select().from(t.devices).where(eq(t.devices.id, deviceId)).limit(1);
  if (!device) throw new Error(`unknown device ${deviceId}`);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (device.tokenHash === hashDeviceToken(token)) return token;
  }
  const token = newToken();
  const at = now.toISOString();
  const wasEnrolled = device.tokenHash !== null;
  const action = wasEnrolled ? 'device.token_reissued' : 'device.enrolled';
  await transaction(db, async (tx) => {
    // Audited: the audit chain's lock first, so every writer takes its locks in one order.
    await serialize(tx, 'audit_log');
    await tx
      .update(t.devices)
      .set({
        tokenHash: hashDeviceToken(token),
        enrolledAt: wasEnrolled && device.enrolledAt ? device.enrolledAt : at,
        unenrolledAt: null,
      })
      .where(eq(t.devices.id, deviceId));
    await appendAuditEntry(tx, at, {
      key: `${action}:${deviceId}:${at}`,
      actor: 'reqflow',
      action,
      subject: deviceId,
      details: { ownerId: device.ownerId, via: 'embedded stack' },
    });
  });
  // Stored after the hash: a crash in between leaves a file that does not match, and the next start issues again.
  writeTokenFile(file, token);
  return token;
}
