import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from './keys.js';

/**
 * Satisfaction-survey links in fulfillment notifications. The token names the
 * requester and is bound to one request, so the survey page knows who answers
 * without a login session. HMAC-SHA256 with the survey-link key derived from the server
 * secret (not the key of user tokens or approve links); no expiry, because
 * a late answer is still worth having and a second answer only replaces the first.
 */
function mac(secret: string, requestId: string, requester: string): string {
  // The request id cannot contain a newline (REQ-[0-9A-Z]+), so the input is unambiguous.
  return createHmac('sha256', deriveKey(secret, 'survey-link'))
    .update(`${requestId}\n${requester}`)
    .digest('base64url');
}

export function signSurveyToken(secret: string, requestId: string, requester: string): string {
  return `${Buffer.from(requester).toString('base64url')}.${mac(secret, requestId, requester)}`;
}

/** The path of the survey page for a request, signed for its requester (notify makes it absolute). */
export function surveyLink(secret: string, requestId: string, requester: string): string {
  return `/surveys/${encodeURIComponent(requestId)}?t=${signSurveyToken(secret, requestId, requester)}`;
}

export type SurveyTokenCheck =
  { ok: true; requester: string } | { ok: false; reason: 'malformed' | 'forged' };

export function verifySurveyToken(secret: string, requestId: string, token: string): SurveyTokenCheck {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return { ok: false, reason: 'malformed' };
  const requester = Buffer.from(payload, 'base64url').toString('utf8');
  if (!requester) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(mac(secret, requestId, requester));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'forged' };
  return { ok: true, requester };
}
