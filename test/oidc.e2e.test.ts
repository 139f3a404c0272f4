import { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { SignJWT, type CryptoKey } from 'jose';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';
import { freePort } from '../scripts/dev-server.js';
import {
  makeSigningKey,
  startTestProvider,
  type SigningKey,
  type TestProvider,
} from './helpers/oidc-provider.js';
import { openTestDatabase } from './helpers/test-database.js';

// The API as a resource server of a real OpenID provider (oidc-provider on loopback): access
// tokens come from a real authorization-code flow with PKCE, and the API runs on a real port.

const AUDIENCE = 'https://reqflow.test/api';
const OTHER_AUDIENCE = 'https://payroll.test/api';
// Carol's objectId at the provider: SCIM provisions it as her externalId, and her tokens carry it as sub.
const CAROL_OBJECT_ID = '5f0c3a8e-7b1d-4e52-9a61-2c8d4e9b7f10';
const BOB_OBJECT_ID = '0b6d2f4c-1e3a-4b7d-8c9e-f1a2b3c4d5e6';

/** What the provider puts in access tokens besides sub: the username claim, as a directory would. */
const usernames: Record<string, string> = {
  alice: 'Alice',
  dave: 'dave',
  olga: 'olga',
  mallory: 'mallory',
  // Bob's objectId as sub, but Erin's username: the claims name two people.
  [BOB_OBJECT_ID]: 'erin',
};

let provider: TestProvider;
let firstKey: SigningKey;
let db: DB;
let temporal: Client;
const apps: App[] = [];

async function startApi(extraEnv: Record<string, string> = {}) {
  const config = loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-oidc-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    REQFLOW_DEV_MODE: '0',
    REQFLOW_SECRET: 'oidc-test-secret-oidc-test-secret-oidc',
    OIDC_ISSUER: provider.issuer,
    OIDC_AUDIENCE: AUDIENCE,
    ...extraEnv,
  });
  const app = await buildApp({ db, temporal, config, secret: config.secret! });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: await freePort() });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the API is not listening');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    get: (path: string, token: string) =>
      fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } }),
  };
}

let api: Awaited<ReturnType<typeof startApi>>;

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  await db.update(t.users).set({ externalId: CAROL_OBJECT_ID }).where(eq(t.users.id, 'carol'));
  await db.update(t.users).set({ active: false }).where(eq(t.users.id, 'dave'));
  await db.update(t.users).set({ externalId: BOB_OBJECT_ID }).where(eq(t.users.id, 'bob'));
  await db.update(t.users).set({ removedAt: new Date().toISOString() }).where(eq(t.users.id, 'olga'));
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = new Client({ connection });
  firstKey = await makeSigningKey('key-2025');
  provider = await startTestProvider({
    port: await freePort(),
    audiences: [AUDIENCE, OTHER_AUDIENCE],
    keys: [firstKey],
    claims: (accountId) => (usernames[accountId] ? { preferred_username: usernames[accountId] } : {}),
  });
  // A short cooldown, so the rotation below is picked up within seconds rather than the default 30.
  api = await startApi({ OIDC_JWKS_COOLDOWN: '1s' });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await provider?.stop();
  await temporal?.connection.close();
});

async function expectRefused(res: Response, status: 401 | 403, detail: RegExp) {
  const body = (await res.json()) as { status: number; detail: string };
  expect({ status: res.status, type: res.headers.get('content-type'), detail: body.detail }).toMatchObject({
    status,
    type: expect.stringContaining('application/problem+json') as unknown,
    detail: expect.stringMatching(detail) as unknown,
  });
  if (status === 401) expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
}

/** A token as the provider would sign it, with one thing changed. */
async function forge(claims: Record<string, unknown>, key: CryptoKey, header: { alg: string; kid?: string }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ preferred_username: 'alice', ...claims })
    .setProtectedHeader(header)
    .setIssuer((claims.iss as string | undefined) ?? provider.issuer)
    .setAudience((claims.aud as string | undefined) ?? AUDIENCE)
    .setSubject('alice')
    .setIssuedAt(now - 60)
    .setExpirationTime((claims.exp as number | undefined) ?? now + 300)
    .sign(key);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe("access tokens of the organisation's OpenID provider", () => {
  it('lets a person in who signed in with the authorization-code flow and PKCE', async () => {
    const token = await provider.signIn('alice');
    // The username claim "Alice" matches the userName "alice" regardless of case.
    const res = await api.get('/api/cmdb/devices/LAPTOP-ALICE', token);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { owner: string }).owner).toBe('alice');
  });

  it('matches sub to externalId when the token has no username claim', async () => {
    const token = await provider.signIn(CAROL_OBJECT_ID);
    expect((await api.get('/api/cmdb/devices/LAPTOP-CAROL', token)).status).toBe(200);
    // ...and it is Carol, not someone else: Alice's laptop is not hers to see.
    expect((await api.get('/api/cmdb/devices/LAPTOP-ALICE', token)).status).toBe(404);
  });

  it("keeps accepting the API's own tokens alongside", async () => {
    expect((await api.get('/api/catalog', api.app.issueUserToken('bob'))).status).toBe(200);
  });

  it('refuses a token for another audience', async () => {
    const token = await provider.signIn('alice', { resource: OTHER_AUDIENCE });
    await expectRefused(await api.get('/api/catalog', token), 401, /audience .*payroll.*not this API/);
  });

  it("refuses a token of another issuer, even one signed with the provider's key", async () => {
    const token = await forge({ iss: 'https://login.evil.test' }, firstKey.privateKey, {
      alg: 'RS256',
      kid: firstKey.kid,
    });
    await expectRefused(
      await api.get('/api/catalog', token),
      401,
      /issuer "https:\/\/login\.evil\.test" are not accepted/,
    );
  });

  it('refuses an expired token', async () => {
    const exp = Math.floor(Date.now() / 1000) - 120;
    const token = await forge({ exp }, firstKey.privateKey, { alg: 'RS256', kid: firstKey.kid });
    await expectRefused(await api.get('/api/catalog', token), 401, /expired/);
  });

  it('refuses a token signed with a key the provider does not publish', async () => {
    const rogue = await makeSigningKey('rogue-key');
    const token = await forge({}, rogue.privateKey, { alg: 'RS256', kid: rogue.kid });
    await expectRefused(await api.get('/api/catalog', token), 401, /kid "rogue-key".*does not publish/);
    // The provider's kid on a rogue key does not help either.
    const sameKid = await forge({}, rogue.privateKey, { alg: 'RS256', kid: firstKey.kid });
    await expectRefused(await api.get('/api/catalog', sameKid), 401, /signature does not verify/);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: provider.issuer,
      aud: AUDIENCE,
      sub: 'alice',
      preferred_username: 'alice',
      exp: now + 300,
    };
    for (const token of [
      `${b64({ alg: 'none' })}.${b64(payload)}.`,
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}`,
    ]) {
      await expectRefused(await api.get('/api/catalog', token), 401, /alg "none"|not a JWT/);
    }
  });

  it("refuses an HS256 token signed with the provider's public key (algorithm confusion)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: provider.issuer,
      aud: AUDIENCE,
      sub: 'alice',
      preferred_username: 'alice',
      iat: now,
      exp: now + 300,
    };
    for (const secret of [firstKey.publicPem, JSON.stringify(firstKey.publicJwk)]) {
      const signingInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: firstKey.kid })}.${b64(payload)}`;
      const token = `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
      await expectRefused(await api.get('/api/catalog', token), 401, /asymmetric algorithm.*HS256/);
    }
  });

  it('refuses a person the directory does not know, deactivated or removed, or whose claims name two users', async () => {
    const signedIn = async (login: string) => api.get('/api/catalog', await provider.signIn(login));
    await expectRefused(await signedIn('mallory'), 403, /"mallory".*not a reqflow user/);
    await expectRefused(await signedIn('dave'), 403, /"dave".*no longer an active reqflow user/);
    await expectRefused(await signedIn('olga'), 403, /"olga".*no longer an active reqflow user/);
    await expectRefused(await signedIn(BOB_OBJECT_ID), 403, /"erin".*matches more than one reqflow user/);
  });

  it('answers 503 while the provider cannot be reached, and says so', async () => {
    const absent = `http://127.0.0.1:${await freePort()}`;
    const orphan = await startApi({ OIDC_ISSUER: absent });
    const token = await forge({ iss: absent }, firstKey.privateKey, { alg: 'RS256', kid: firstKey.kid });
    const res = await orphan.get('/api/catalog', token);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toMatch(
      /discovery document .* could not be read/,
    );
    // Its own tokens do not depend on the provider.
    expect((await orphan.get('/api/catalog', orphan.app.issueUserToken('alice'))).status).toBe(200);
  });

  it('picks up rotated keys without a restart, and rate-limits fetches for unknown keys', async () => {
    const before = await provider.signIn('alice');
    const nextKey = await makeSigningKey('key-2026');
    // The provider publishes the new key first (it signs with it) and keeps the old one for tokens in flight.
    await provider.restart([nextKey, firstKey]);
    const after = await provider.signIn('alice');
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString())).toMatchObject({
      kid: 'key-2026',
    });

    // The running API fetches the key set again once its 1 s cooldown since the last fetch has passed.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await api.get('/api/catalog', after)).status;
      if (status === 200) break;
      await sleep(200);
    }
    expect(status).toBe(200);
    expect((await api.get('/api/catalog', before)).status).toBe(200);

    // With the default 30 s cooldown, a burst of tokens with made-up key ids costs the provider at most one fetch.
    const guarded = await startApi();
    expect((await guarded.get('/api/catalog', after)).status).toBe(200);
    const fetches = provider.jwksFetches();
    for (let i = 0; i < 10; i++) {
      const rogue = await makeSigningKey(`made-up-${i}`);
      const token = await forge({}, rogue.privateKey, { alg: 'RS256', kid: rogue.kid });
      expect((await guarded.get('/api/catalog', token)).status).toBe(401);
    }
    expect(provider.jwksFetches() - fetches).toBeLessThanOrEqual(1);
  });
});
