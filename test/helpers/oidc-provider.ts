import { createServer, type Server } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import * as client from 'openid-client';
import Provider, { errors } from 'oidc-provider';

/** An RSA signing key of the test provider, with the parts tests forge tokens from. */
export interface SigningKey {
  kid: string;
  privateJwk: JWK;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** The public key as PEM: the "secret" of the classic RS256-to-HS256 confusion attack. */
  publicPem: string;
}

export async function makeSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const meta = { kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
    publicPem: await exportSPKI(publicKey),
  };
}

export interface TestProviderOptions {
  port: number;
  /** The resource servers (audiences) the provider issues JWT access tokens for; the first is the default. */
  audiences: string[];
  /** Signing keys, the first signs (oidc-provider signs with the first key of an algorithm). */
  keys: SigningKey[];
  /** Extra access-token claims for an account, e.g. preferred_username; also its UserInfo (scope profile). */
  claims: (accountId: string) => Record<string, unknown>;
  /** More redirect URIs of the client, e.g. the portal's sign-in callback. */
  redirectUris?: string[];
}

export interface TestProvider {
  issuer: string;
  /**
   * A real authorization-code flow with PKCE: openid-client builds the request and redeems
   * the code; the provider's dev login and consent forms are posted over HTTP with its cookies.
   * Resolves to the access token (a JWT for `resource`).
   */
  signIn(login: string, opts?: { resource?: string }): Promise<string>;
  /** Starts the provider again on the same port with another keystore, as a key rotation does. */
  restart(keys: SigningKey[]): Promise<void>;
  /** How many times the key set (jwks_uri) has been fetched. */
  jwksFetches(): number;
  stop(): Promise<void>;
}

const CLIENT_ID = 'reqflow-portal';
const CLIENT_SECRET = 'portal-secret-portal-secret-portal-secret';

/** An OpenID provider (oidc-provider) on loopback, like the organisation's, for tests. */
export async function startTestProvider(opts: TestProviderOptions): Promise<TestProvider> {
  const issuer = `http://127.0.0.1:${opts.port}`;
  const redirectUri = `${issuer}/cb-never-served`;
  let fetches = 0;
  let server: Server | undefined;

  const listen = async (keys: SigningKey[]) => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [redirectUri, ...(opts.redirectUris ?? [])],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      jwks: { keys: keys.map((k) => k.privateJwk as Record<string, unknown>) },
      cookies: { keys: ['test-provider-cookie-key'] },
      pkce: { required: () => true },
      scopes: ['openid', 'profile', 'requests'],
      claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
      findAccount: async (_ctx, sub) => ({
        accountId: sub,
        claims: async () => ({ ...opts.claims(sub), sub }),
      }),
      extraTokenClaims: async (_ctx, token) => opts.claims(token.accountId),
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => opts.audiences[0],
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx, resource) => {
            if (!opts.audiences.includes(resource)) throw new errors.InvalidTarget();
            return {
              scope: 'requests',
              audience: resource,
              accessTokenFormat: 'jwt',
              accessTokenTTL: 300,
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      },
    });
    const callback = provider.callback();
    server = createServer((req, res) => {
      if (req.url?.startsWith('/jwks')) fetches++;
      // No keep-alive: a restart would otherwise leave clients a pooled socket to the old server.
      res.setHeader('connection', 'close');
      callback(req, res);
    });
    const s = server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(opts.port, '127.0.0.1', () => resolve());
    });
  };

  const close = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen(opts.keys);

  async function signIn(login: string, { resource = opts.audiences[0]! } = {}): Promise<string> {
    const config = await client.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid requests',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource,
    });

    // The browser's part: follow redirects, keep cookies, submit the login and consent forms.
    const cookies = new Map<string, string>();
    const send = async (url: string, body?: URLSearchParams) => {
      const res = await fetch(url, {
        method: body ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(body ? { body } : {}),
      });
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = pair!.indexOf('=');
        cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
      return res;
    };
    let res = await send(authorizationUrl.href);
    for (let step = 0; step < 12; step++) {
      const location = res.headers.get('location');
      if (location) {
        const next = new URL(location, issuer);
        if (next.href.startsWith(redirectUri)) {
          const tokens = await client.authorizationCodeGrant(
            config,
            next,
            { pkceCodeVerifier: verifier, expectedState: state },
            { resource },
          );
          return tokens.access_token;
        }
        res = await send(next.href);
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      if (res.status !== 200 || !action || !prompt)
        throw new Error(`sign-in of ${login} stopped at ${res.status}: ${html.slice(0, 500)}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', login);
        form.set('password', 'any password: dev interactions accept every one');
      }
      res = await send(new URL(action, issuer).href, form);
    }
    throw new Error(`sign-in of ${login} did not reach the redirect URI`);
  }

  return {
    issuer,
    signIn,
    async restart(keys) {
      await close();
      await listen(keys);
    },
    jwksFetches: () => fetches,
    stop: close,
  };
}
