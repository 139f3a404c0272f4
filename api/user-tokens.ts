import { createHmac } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import type { OidcConfig } from '../runtime/config.js';
import { deriveKey } from '../runtime/keys.js';
import {
  CLOCK_TOLERANCE_S,
  createIdentityProvider,
  TokenRefused,
  type IdentityProvider,
} from './identity-provider.js';

/** The `iss` (and `aud`) of the tokens this API issues itself: dev login and tests. */
export const OWN_ISSUER = 'reqflow';

/** A working day and then some: a dev-login token outlives a demo, not a week. */
const OWN_TOKEN_TTL_S = 12 * 60 * 60;

/** Who a verified token names: a reqflow user id (own tokens), or the provider's claims to match. */
export type TokenIdentity =
  | { source: 'reqflow'; userId: string }
  | { source: 'oidc'; issuer: string; sub: string | undefined; username: string | undefined };

export interface UserTokens {
  /** Signs a token of our own for a user id (HS256 with the user-token key). */
  issue(userId: string, now?: number): string;
  /** Verifies a bearer token of either issuer; throws TokenRefused. */
  verify(token: string): Promise<TokenIdentity>;
  /** The organisation's provider, when OIDC_ISSUER is set. */
  provider: IdentityProvider | undefined;
}

/**
 * How long a verified token's identity is reused without checking its signature again. A
 * signature check does not change its answer while the token lives, except that a key the
 * provider stops publishing (a rotation after a leak) keeps passing for this long: well under
 * the provider's own key cache (OIDC_JWKS_COOLDOWN_MS) in practice, and short against a
 * token's life. The person behind the token is still looked up on every request, so a
 * deactivated user is refused at once.
 */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Bearer tokens whose identity is kept (one per signed-in client is plenty). */
const VERIFIED_TOKEN_CACHE = 10_000;

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const quoted = (value: unknown) => JSON.stringify(value)?.slice(0, 200) ?? 'nothing';

/**
 * Bearer tokens of two issuers, told apart by their (not yet verified) `iss`. Each issuer
 * has its own key material and algorithms, so a token cannot pick the check it passes:
 * ours are HS256 with a key derived for user tokens alone; the provider's are verified
 * against its published keys with asymmetric algorithms only, so an HS256 token claiming
 * the provider's issuer is refused whatever key it was made with.
 */
export function createUserTokens(opts: { secret: string; oidc?: OidcConfig | undefined }): UserTokens {
  const key = deriveKey(opts.secret, 'user-token');
  const oidc = opts.oidc?.issuer ? opts.oidc : undefined;
  const provider = oidc ? createIdentityProvider(oidc) : undefined;

  // Synchronous (app.issueUserToken is), which jose's SignJWT is not; a compact HS256 JWS is this much.
  function issue(userId: string, now = Date.now()): string {
    const iat = Math.floor(now / 1000);
    const header = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64(
      JSON.stringify({ iss: OWN_ISSUER, aud: OWN_ISSUER, sub: userId, iat, exp: iat + OWN_TOKEN_TTL_S }),
    );
    const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${signature}`;
  }

  async function verifyOwn(token: string): Promise<TokenIdentity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        issuer: OWN_ISSUER,
        audience: OWN_ISSUER,
        algorithms: ['HS256'],
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new TokenRefused(401, 'The token expired; log in again.');
      throw new TokenRefused(401, 'The token is not one this API issued, or it was altered; log in again.');
    }
    return { source: 'reqflow', userId: payload.sub ?? '' };
  }

  async function verifyUncached(token: string): Promise<{ identity: TokenIdentity; exp?: number }> {
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new TokenRefused(401, 'The bearer token is not a JWT; log in again.');
    }
    if (!header.alg || header.alg.toLowerCase() === 'none')
      throw new TokenRefused(401, 'Unsigned tokens (alg "none") are never accepted.');
    if (claims.iss === OWN_ISSUER) return { identity: await verifyOwn(token), exp: claims.exp };
    if (provider && oidc && claims.iss === provider.issuer) {
      const payload = await provider.verify(token, header);
      const username = payload[oidc.usernameClaim];
      return {
        identity: {
          source: 'oidc',
          issuer: provider.issuer,
          sub: payload.sub || undefined,
          username: typeof username === 'string' && username ? username : undefined,
        },
        exp: payload.exp,
      };
    }
    throw new TokenRefused(
      401,
      `Tokens from issuer ${quoted(claims.iss)} are not accepted` +
        (provider
          ? `; this API accepts tokens from ${provider.issuer}.`
          : '; no identity provider is configured (OIDC_ISSUER).'),
    );
  }

  // Every request of a signed-in client carries the same token: checking its HMAC or RSA
  // signature again each time cost more than the rest of a read (WebCrypto's key import and
  // job hop per call). Only tokens that passed are kept, never past their own `exp`.
  const verified = new Map<string, { identity: TokenIdentity; until: number }>();

  async function verify(token: string): Promise<TokenIdentity> {
    const now = Date.now();
    const known = verified.get(token);
    if (known && now < known.until) return known.identity;
    if (known) verified.delete(token);
    const { identity, exp } = await verifyUncached(token);
    const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, typeof exp === 'number' ? exp * 1000 : Infinity);
    if (until > now) {
      // The oldest entry goes first: Map keeps insertion order.
      if (verified.size >= VERIFIED_TOKEN_CACHE) verified.delete(verified.keys().next().value!);
      verified.set(token, { identity, until });
    }
    return identity;
  }

  return { issue, verify, provider };
}
