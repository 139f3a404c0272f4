import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { OidcConfig } from '../../runtime/config.js';
import { findDeviceByToken } from '../../devices/index.js';
import type { DB } from '../../db/client.js';
import { findSignInUser, loadPrincipal, type UserPrincipal } from '../../directory/sign-in.js';
import { HttpProblem } from '../errors.js';
import { TokenRefused } from '../identity-provider.js';
import { CSRF_HEADER, readCookie, SESSION_COOKIE } from '../session-cookie.js';
import { createUserTokens, OWN_ISSUER, type TokenIdentity } from '../user-tokens.js';

export type { UserPrincipal };

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: a user's bearer token (the organisation's provider, or our own). */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** preHandler: a device agent's bearer token. */
    authenticateDevice: (request: FastifyRequest) => Promise<void>;
    /** Signs a user token of our own (dev login, tests). */
    issueUserToken: (userId: string) => string;
  }
  interface FastifyRequest {
    principal: UserPrincipal;
    deviceId: string;
  }
}

const unauthorized = (detail: string) => new HttpProblem(401, 'Unauthorized', detail);
const notAUser = (detail: string) => new HttpProblem(403, 'Forbidden', detail);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The portal's session token, for a call without an Authorization header (every client but
 * the portal sends one, and it wins). A write on the strength of the cookie must also carry
 * the portal's CSRF header.
 */
function sessionToken(request: FastifyRequest): string | undefined {
  const session = request.headers.authorization ? undefined : readCookie(request, SESSION_COOKIE);
  if (session && !SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] !== '1')
    throw notAUser(
      `A change made with the portal's session cookie must carry the header "${CSRF_HEADER}: 1"; ` +
        'other clients send "Authorization: Bearer <token>".',
    );
  return session || undefined;
}

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw unauthorized('Send "Authorization: Bearer <token>".');
  return match[1];
}

async function principalOf(
  db: DB,
  identity: TokenIdentity,
  log: FastifyRequest['log'],
): Promise<UserPrincipal> {
  if (identity.source === 'reqflow') {
    const principal = await loadPrincipal(db, identity.userId);
    if (!principal) throw notAUser(`User "${identity.userId}" is not (or no longer) an active reqflow user.`);
    return principal;
  }
  const match = await findSignInUser(db, identity);
  if (match.ok) return match.principal;
  const who = [
    identity.username ? `"${identity.username}"` : undefined,
    identity.sub ? `(sub "${identity.sub}")` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  if (match.reason === 'ambiguous') {
    log.warn({ userIds: match.userIds, ...identity }, 'sign-in claims match more than one user');
    throw notAUser(
      `The identity provider signed in ${who}, which matches more than one reqflow user by userName ` +
        `or externalId; the directory must be corrected before they can sign in.`,
    );
  }
  throw notAUser(
    match.reason === 'inactive'
      ? `The identity provider signed in ${who}, who is no longer an active reqflow user (deactivated or removed in the directory).`
      : `The identity provider signed in ${who}, who is not a reqflow user: no user has that userName or externalId.`,
  );
}

/**
 * Users carry a bearer JWT: an access token from the organisation's OpenID provider, or
 * one the API signed itself (dev login, tests). Devices carry an opaque token whose
 * sha256 is stored on the device row, so a database leak does not leak tokens.
 */
export default fp(
  async function auth(app: FastifyInstance, opts: { db: DB; secret: string; oidc?: OidcConfig | undefined }) {
    const tokens = createUserTokens({ secret: opts.secret, oidc: opts.oidc });
    app.decorateRequest('principal', null as unknown as UserPrincipal);
    app.decorateRequest('deviceId', '');

    app.decorate('issueUserToken', (userId: string) => tokens.issue(userId));

    app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      let identity: TokenIdentity;
      const session = sessionToken(request);
      try {
        identity = await tokens.verify(session ?? bearer(request));
        // The portal's sessions hold tokens of this API only (the sign-in routes mint them).
        if (session && identity.source !== 'reqflow')
          throw new TokenRefused(401, `The session cookie must hold a token of issuer "${OWN_ISSUER}".`);
      } catch (err) {
        if (!(err instanceof TokenRefused) && !(err instanceof HttpProblem)) throw err;
        if (err instanceof TokenRefused && err.status === 503) {
          request.log.error({ err }, 'the identity provider could not be asked');
          throw new HttpProblem(503, 'Service Unavailable', err.message);
        }
        // RFC 6750 §3: a 401 names the scheme, and the error when a token was sent.
        reply.header(
          'www-authenticate',
          err instanceof TokenRefused
            ? 'Bearer realm="reqflow", error="invalid_token"'
            : 'Bearer realm="reqflow"',
        );
        throw err instanceof TokenRefused ? unauthorized(err.message) : err;
      }
      request.principal = await principalOf(opts.db, identity, request.log);
    });

    app.decorate('authenticateDevice', async (request: FastifyRequest) => {
      const device = await findDeviceByToken(opts.db, bearer(request));
      if (!device) {
        throw unauthorized(
          'Unknown or revoked device token. An unenrolled device enrolls again with a new enrollment token from an operator.',
        );
      }
      request.deviceId = device.id;
    });

    const { provider } = tokens;
    if (provider) {
      app.addHook('onReady', async () => {
        // Not awaited: the API serves its own tokens, health and docs while the provider is
        // away, and the next sign-in asks the provider again.
        provider.warmUp().then(
          (jwksUri) => app.log.info(`accepting access tokens from ${provider.issuer} (keys at ${jwksUri})`),
          (err: unknown) =>
            app.log.warn(
              `identity provider not reachable yet: ${err instanceof Error ? err.message : String(err)}`,
            ),
        );
      });
    }
  },
  { name: 'auth' },
);
