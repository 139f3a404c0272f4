import { eq } from 'drizzle-orm';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type { Config } from './config.js';

export function hashDeviceToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function writePrivate(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * The token-signing secret: REQFLOW_SECRET, or in dev mode one generated once into
 * DATA_DIR so tokens survive a restart of the embedded stack.
 */
export function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  if (!config.devMode)
    throw new Error('REQFLOW_SECRET must be set (at least 32 characters) outside dev mode.');
  const file = join(config.dataDir, 'secret');
  if (!existsSync(file)) writePrivate(file, randomBytes(32).toString('hex'));
  return readFileSync(file, 'utf8').trim();
}

export function deviceTokenFile(dataDir: string, deviceId: string): string {
  return join(dataDir, 'devices', deviceId, 'agent.token');
}

/**
 * Enrolls a device for the embedded stack: keeps its token file if it still matches
 * the stored hash, otherwise issues a new token. Only the hash goes to the database.
 */
export function ensureDeviceToken(db: DB, dataDir: string, deviceId: string): string {
  const file = deviceTokenFile(dataDir, deviceId);
  const device = db.select().from(t.devices).where(eq(t.devices.id, deviceId)).get();
  if (!device) throw new Error(`unknown device ${deviceId}`);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (device.tokenHash === hashDeviceToken(token)) return token;
  }
  const token = randomBytes(24).toString('base64url');
  db.update(t.devices)
    .set({ tokenHash: hashDeviceToken(token) })
    .where(eq(t.devices.id, deviceId))
    .run();
  writePrivate(file, `${token}\n`);
  return token;
}
