import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Decision } from '../domain/approval.js';
import { deriveKey } from './keys.js';

/**
 * Approve/deny links in approval notifications. A token is bound to one approver,
 * one request and one decision, expires, and is spent on first use (the API records
 * its id). HMAC-SHA256 with the approval-link key derived from the server secret (not the
 * key of user tokens or survey links); the payload is readable, not secret.
 */
export interface LinkClaims {
  /** Token id, recorded when the link is used so it works once. */
  jti: string;
  requestId: string;
  approver: string;
  decision: Decision;
  /** Expiry, epoch milliseconds. */
  exp: number;
}

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

function mac(secret: string, payload: string): string {
  return createHmac('sha256', deriveKey(secret, 'approval-link')).update(payload).digest('base64url');
}

export function signApprovalLink(
  secret: string,
  claims: Omit<LinkClaims, 'jti' | 'exp'>,
  ttlMs: number,
  now = Date.now(),
): string {
  const full: LinkClaims = { jti: randomUUID(), ...claims, exp: now + ttlMs };
  const payload = b64(JSON.stringify(full));
  return `${payload}.${mac(secret, payload)}`;
}

export type LinkCheck =
  { ok: true; claims: LinkClaims } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export function verifyApprovalLink(secret: string, token: string, now = Date.now()): LinkCheck {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'forged' };
  let claims: LinkClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LinkClaims;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof claims.exp !== 'number' || claims.exp <= now) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
