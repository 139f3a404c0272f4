import {
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
  type RemoteJWKSet,
} from 'jose';
import type { OidcConfig } from '../runtime/config.js';
import { insecureUrlProblem } from '../runtime/startup-checks.js';

/**
 * Why a bearer token was refused. 401: the token is at fault (sign in again); 503: the
 * identity provider could not be asked, so no token from it can be checked for now.
 */
export class TokenRefused extends Error {
  constructor(
    readonly status: 401 | 503,
    detail: string,
  ) {
    super(detail);
  }
}

/** Clocks of the provider and the API differ a little; half a minute is the usual allowance. */
export const CLOCK_TOLERANCE_S = 30;

/**
 * Only public-key signatures: with an HMAC algorithm, whoever knows the key can mint
 * tokens, and the classic confusion attack uses the provider's public key as that secret.
 */
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

// A provider that has not answered in five seconds is down for our purposes; a request
// should not hang longer than that on it.
const FETCH_TIMEOUT_MS = 5_000;

export interface IdentityProvider {
  issuer: string;
  /** Verifies an access token of this provider; throws TokenRefused. */
  verify(token: string, header: ProtectedHeaderParameters): Promise<JWTPayload>;
  /** Reads the discovery document and the key set now; resolves to the key set's URL. */
  warmUp(): Promise<string>;
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
const quoted = (value: unknown) => JSON.stringify(value)?.slice(0, 200) ?? 'nothing';

/**
 * The organisation's OpenID provider as this resource server sees it: its discovery
 * document (read on first use and kept; a failed read is retried by the next request)
 * and its key set, which jose caches for ten minutes and fetches again when a token
 * names a key it has not seen (the provider rotated its keys), at most once per
 * `jwksCooldownMs`, so a stream of tokens with made-up key ids cannot flood the provider.
 */
export function createIdentityProvider(oidc: OidcConfig): IdentityProvider {
  const { issuer, audiences } = oidc;
  if (!issuer) throw new Error('OIDC_ISSUER is not set');
  const problem = insecureUrlProblem('OIDC_ISSUER', issuer);
  if (problem) throw new Error(problem);
  if (audiences.length === 0) throw new Error('OIDC_AUDIENCE must be set with OIDC_ISSUER');
  const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

  interface Discovered {
    jwksUri: string;
    remote: RemoteJWKSet;
    keys: JWTVerifyGetKey;
  }

  async function discover(): Promise<Discovered> {
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(discoveryUrl, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (err) {
      throw new TokenRefused(
        503,
        `The identity provider's discovery document ${discoveryUrl} could not be read (${reason(err)}); ` +
          `tokens from ${issuer} cannot be checked until it can.`,
      );
    }
    // OpenID Connect Discovery 1.0 §4.3: a document naming another issuer must not be used.
    if (doc.issuer !== issuer) {
      throw new TokenRefused(
        503,
        `The discovery document ${discoveryUrl} names issuer ${quoted(doc.issuer)}, not "${issuer}": ` +
          `OIDC_ISSUER must be exactly the issuer the provider publishes.`,
      );
    }
    const jwksUri = doc.jwks_uri;
    if (typeof jwksUri !== 'string')
      throw new TokenRefused(503, `The discovery document ${discoveryUrl} has no jwks_uri.`);
    const jwksProblem = insecureUrlProblem("The provider's jwks_uri", jwksUri);
    if (jwksProblem) throw new TokenRefused(503, jwksProblem);
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: oidc.jwksCooldownMs,
      timeoutDuration: FETCH_TIMEOUT_MS,
    });
    const keys: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        // A key the set lacks is the token's fault; anything else is the provider's.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
          throw err;
        throw new TokenRefused(
          503,
          `The identity provider's keys at ${jwksUri} could not be read (${reason(err)}).`,
        );
      }
    };
    return { jwksUri, remote, keys };
  }

  let discovered: Promise<Discovered> | undefined;
  const provider = () =>
    (discovered ??= discover().catch((err: unknown) => {
      discovered = undefined;
      throw err;
    }));

  return {
    issuer,
    async warmUp() {
      const { jwksUri, remote } = await provider();
      // Fetch the key set too, so a wrong jwks_uri shows at start rather than at the first sign-in.
      await remote.reload();
      return jwksUri;
    },
    async verify(token, header) {
      const { keys } = await provider();
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer,
          audience: audiences,
          algorithms: ASYMMETRIC_ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['exp'],
        });
        return payload;
      } catch (err) {
        throw refusal(err, header, oidc);
      }
    },
  };
}

function refusal(err: unknown, header: ProtectedHeaderParameters, oidc: OidcConfig): TokenRefused {
  if (err instanceof TokenRefused) return err;
  const issuer = oidc.issuer ?? '';
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? new Date(err.payload.exp * 1000).toISOString() : '';
    return new TokenRefused(401, `The access token expired${exp ? ` at ${exp}` : ''}; sign in again.`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud')
      return new TokenRefused(
        401,
        `The access token is for audience ${quoted(err.payload.aud)}, not this API ` +
          `(${oidc.audiences.join(', ')}); ask the identity provider for a token for this API.`,
      );
    if (err.claim === 'nbf')
      return new TokenRefused(401, 'The access token is not valid yet (nbf is in the future).');
    if (err.reason === 'missing')
      return new TokenRefused(401, `The access token has no "${err.claim}" claim, which this API requires.`);
    return new TokenRefused(401, `The access token's "${err.claim}" claim is not accepted (${err.message}).`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new TokenRefused(
      401,
      `Tokens from ${issuer} must be signed with an asymmetric algorithm (RS*, PS*, ES*, EdDSA); ` +
        `this one says alg ${quoted(header.alg)}.`,
    );
  if (err instanceof errors.JWKSNoMatchingKey)
    return new TokenRefused(
      401,
      `The access token was signed with a key (kid ${quoted(header.kid)}) that ${issuer} does not publish.`,
    );
  if (err instanceof errors.JWKSMultipleMatchingKeys)
    return new TokenRefused(401, `The access token names no key id and ${issuer} publishes several keys.`);
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new TokenRefused(401, `The access token's signature does not verify with ${issuer}'s keys.`);
  return new TokenRefused(401, `The access token is not a well-formed signed JWT (${reason(err)}).`);
}
