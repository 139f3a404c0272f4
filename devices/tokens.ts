import { createHash, randomBytes } from 'node:crypto';

/**
 * What the database keeps of a device or enrollment token. The tokens are 256 random
 * bits, so a plain sha256 (no salt, no slow KDF) already makes a leaked table useless.
 */
export function hashDeviceToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * A new bearer token: 32 random bytes, base64url (43 characters, safe in headers and files),
 * never starting with "-": one in 64 would, and `agent enroll --token -x…` then reads as an
 * option and is refused as ambiguous.
 */
export function newToken(): string {
  for (;;) {
    const token = randomBytes(32).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}
