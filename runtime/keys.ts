import { hkdfSync } from 'node:crypto';

/** What a key signs. Each purpose gets its own key, so one leaked key cannot forge the others. */
export type KeyPurpose = 'user-token' | 'approval-link' | 'survey-link' | 'portal-sign-in';

// A fixed salt is enough: REQFLOW_SECRET is already high-entropy (32+ bytes outside dev mode),
// and a salt that never changes keeps every key the same across restarts, so links and
// tokens issued before a restart still verify after it.
const SALT = 'reqflow key derivation';

/**
 * The 32-byte HMAC-SHA256 key for one purpose, derived from the server secret with HKDF
 * (RFC 5869). The `info` names the purpose and a version, so a future change of scheme
 * gets new keys without touching the secret.
 */
export function deriveKey(secret: string, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, `reqflow/${purpose}/v1`, 32));
}
