import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as oidcClient from 'openid-client';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { findSignInUser } from '../../directory/sign-in.js';
import type { Config } from '../../runtime/config.js';
import { deriveKey } from '../../runtime/keys.js';
import { devLoginAllowed, isLoopbackHost } from '../../runtime/startup-checks.js';
import { HttpProblem } from '../errors.js';
import { problemRef } from '../schemas/common.js';
import { SessionView } from '../schemas/session.js';
import {
  clearSessionCookie,
  cookieIsSecure,
  readCookie,
  setCookie,
  setSessionCookie,
} from '../session-cookie.js';

/** The PKCE verifier, state and nonce of one sign-in, between the redirect out and the callback. */
const FLOW_COOKIE = 'reqflow_oidc_flow';
const FLOW_PATH = '/api/session/oidc';
/** Long enough to type a password and answer a second factor; short enough that a stale flow dies. */
const FLOW_MAX_AGE_S = 10 * 60;

interface Flow {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

/** Only a path of this portal: an absolute URL here would make the callback an open redirect. */
const ReturnTo = Type.String({ pattern: '^/(?![/\\\\])[\\x21-\\x7E]{0,500}$', maxLength: 501 });

const badSignIn = (detail: string) => new HttpProblem(400, 'Bad Request', detail);

/**
 * The portal's sessions, a backend-for-frontend (OAuth 2.0 for Browser-Based Apps): the
 * browser holds an HttpOnly, SameSite=Lax cookie with a token of this API, never a token of
 * the provider. With OIDC_CLIENT_ID set, sign-in is the authorization-code flow with PKCE at
 * the organisation's provider; in dev mode on loopback, POST /api/dev/session signs in a
 * demo person.
 */
const sessionRoutes: FastifyPluginAsyncTypebox<{ db: DB; config: Config; secret: string }> = async (
  app,
  { db, config, secret },
) => {
  const secure = cookieIsSecure(config.publicUrl);
  const { oidc } = config;
  const oidcOn = Boolean(oidc.issuer && oidc.clientId);
  const redirectUri = `${config.publicUrl}${FLOW_PATH}/callback`;
  const flowKey = deriveKey(secret, 'portal-sign-in');

  app.get(
    '/',
    {
      schema: {
        tags: ['session'],
        summary: 'Who is signed in to the portal, and how one signs in',
        security: [{ sessionCookie: [] }, { bearerAuth: [] }, {}],
        response: { 200: SessionView, 400: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      const signIn = { dev: devLoginAllowed(config), oidc: oidcOn };
      try {
        await app.authenticate(request, reply);
      } catch (err) {
        // Nobody (or nobody any more) is signed in: the portal shows its sign-in page.
        if (err instanceof HttpProblem && (err.statusCode === 401 || err.statusCode === 403)) {
          reply.removeHeader('www-authenticate');
          return { user: null, signIn };
        }
        throw err;
      }
      const { id, name, roleId, groups, isOperator } = request.principal;
      return { user: { id, name, roleId, groups, isOperator }, signIn };
    },
  );

  app.delete(
    '/',
    {
      schema: {
        tags: ['session'],
        summary: 'Sign out of the portal (the session cookie is cleared)',
        response: { 204: Type.Null() },
      },
    },
    async (_request, reply) => {
      clearSessionCookie(reply, secure);
      return reply.code(204).send(null);
    },
  );

  if (!oidcOn) return;
  const issuer = oidc.issuer!;
  const clientId = oidc.clientId!;

  let discovered: Promise<oidcClient.Configuration> | undefined;
  // Read once and kept; a failed read is tried again by the next sign-in.
  const provider = () =>
    (discovered ??= oidcClient
      .discovery(
        new URL(issuer),
        clientId,
        oidc.clientSecret,
        undefined,
        // Plain http only to a provider on this machine (the same rule as for its keys).
        isLoopbackHost(new URL(issuer).hostname) ? { execute: [oidcClient.allowInsecureRequests] } : {},
      )
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      }));
  const providerOrProblem = async () => {
    try {
      return await provider();
    } catch (err) {
      app.log.error({ err }, 'the identity provider could not be asked');
      throw new HttpProblem(
        503,
        'Service Unavailable',
        `The identity provider ${issuer} cannot be reached; try signing in again shortly.`,
      );
    }
  };

  const sign = (payload: string) => createHmac('sha256', flowKey).update(payload).digest('base64url');
  const sealFlow = (flow: Flow) => {
    const payload = Buffer.from(JSON.stringify(flow)).toString('base64url');
    return `${payload}.${sign(payload)}`;
  };
  const openFlow = (value: string | undefined): Flow | undefined => {
    const [payload, mac] = value?.split('.') ?? [];
    if (!payload || !mac) return undefined;
    const expected = Buffer.from(sign(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    return JSON.parse(Buffer.from(payload, 'base64url').toString()) as Flow;
  };

  app.get(
    '/oidc/login',
    {
      schema: {
        tags: ['session'],
        summary: "Start signing in at the organisation's OpenID provider (authorization code with PKCE)",
        querystring: Type.Object({ returnTo: Type.Optional(ReturnTo) }, { additionalProperties: false }),
        response: { 302: Type.Null({ description: 'To the provider' }), 400: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      const config = await providerOrProblem();
      const flow: Flow = {
        verifier: oidcClient.randomPKCECodeVerifier(),
        state: oidcClient.randomState(),
        nonce: oidcClient.randomNonce(),
        returnTo: request.query.returnTo ?? '/',
      };
      const url = oidcClient.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: oidc.scopes,
        code_challenge: await oidcClient.calculatePKCECodeChallenge(flow.verifier),
        code_challenge_method: 'S256',
        state: flow.state,
        nonce: flow.nonce,
      });
      setCookie(reply, FLOW_COOKIE, sealFlow(flow), { maxAge: FLOW_MAX_AGE_S, secure, path: FLOW_PATH });
      return reply.redirect(url.href, 302);
    },
  );

  app.get(
    '/oidc/callback',
    {
      schema: {
        tags: ['session'],
        summary: 'Where the provider sends the browser back; sets the session cookie',
        querystring: Type.Object(
          {
            code: Type.Optional(Type.String({ maxLength: 2000 })),
            state: Type.Optional(Type.String({ maxLength: 500 })),
            iss: Type.Optional(Type.String({ maxLength: 500 })),
            error: Type.Optional(Type.String({ maxLength: 200 })),
            error_description: Type.Optional(Type.String({ maxLength: 2000 })),
            session_state: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: {
          303: Type.Null({ description: 'Into the portal, signed in' }),
          400: problemRef,
          403: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      const flow = openFlow(readCookie(request, FLOW_COOKIE));
      setCookie(reply, FLOW_COOKIE, '', { maxAge: 0, secure, path: FLOW_PATH });
      if (request.query.error)
        throw badSignIn(
          `The identity provider refused the sign-in: ${request.query.error}` +
            (request.query.error_description ? ` (${request.query.error_description})` : '') +
            '.',
        );
      if (!flow) throw badSignIn('No sign-in was started in this browser, or it took too long; start again.');
      const config = await providerOrProblem();
      const current = new URL(request.url, config.serverMetadata().issuer);
      const callbackUrl = new URL(`${redirectUri}${current.search}`);
      let claims: oidcClient.IDToken | undefined;
      try {
        const tokens = await oidcClient.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: flow.verifier,
          expectedState: flow.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
        claims = tokens.claims();
        // Providers that follow OpenID Connect Core §5.4 to the letter put profile claims
        // (preferred_username) in the UserInfo answer rather than in the ID token.
        if (claims && typeof claims[oidc.usernameClaim] !== 'string') {
          const info = await oidcClient.fetchUserInfo(config, tokens.access_token, claims.sub);
          claims = { ...claims, [oidc.usernameClaim]: info[oidc.usernameClaim] };
        }
      } catch (err) {
        request.log.warn({ err }, 'sign-in at the identity provider failed');
        throw badSignIn(
          `The sign-in could not be completed (${err instanceof Error ? err.message : String(err)}); start again.`,
        );
      }
      const username = claims?.[oidc.usernameClaim];
      const match = await findSignInUser(db, {
        username: typeof username === 'string' && username ? username : undefined,
        sub: claims?.sub,
      });
      if (!match.ok)
        throw new HttpProblem(
          403,
          'Forbidden',
          match.reason === 'inactive'
            ? 'You are no longer an active reqflow user.'
            : match.reason === 'ambiguous'
              ? 'Your sign-in matches more than one reqflow user; the directory must be corrected first.'
              : 'You are not a reqflow user: the directory has nobody with your user name.',
        );
      setSessionCookie(reply, app.issueUserToken(match.principal.id), secure);
      return reply.redirect(flow.returnTo, 303);
    },
  );
};

export default sessionRoutes;
