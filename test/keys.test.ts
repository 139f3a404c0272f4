import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import auth from '../api/plugins/auth.js';
import problems from '../api/plugins/problems.js';
import catalogRoutes from '../api/routes/catalog.js';
import type { DB } from '../db/client.js';
import { DEMO_CATALOG_DIR, seed } from '../db/seed.js';
import { signApprovalLink, verifyApprovalLink } from '../runtime/approval-links.js';
import { deriveKey, type KeyPurpose } from '../runtime/keys.js';
import { signSurveyToken, verifySurveyToken } from '../runtime/survey-links.js';
import { openTestDatabase } from './helpers/test-database.js';

// One secret, one key per purpose (HKDF): a key that leaks forges nothing but its own kind,
// and the same secret gives the same keys after a restart.

const secret = 'keys-test-secret-keys-test-secret-keys';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The API's real auth and catalog plugins over a database, as one API process would run them. */
async function startApi(db: DB) {
  const app = Fastify({ logger: false })
    .withTypeProvider<TypeBoxTypeProvider>()
    .setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(problems);
  await app.register(auth, { db, secret });
  await app.register(catalogRoutes, { prefix: '/api/catalog', db, catalogDir: DEMO_CATALOG_DIR });
  await app.ready();
  return app;
}

/** A user token of ours, made with any key: what someone holding that key could mint. */
function userTokenWith(key: Buffer | string, userId = 'olga') {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: 'reqflow', aud: 'reqflow', sub: userId, iat: now, exp: now + 600 })}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

let db: DB;
let app: Awaited<ReturnType<typeof startApi>>;

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  app = await startApi(db);
});

afterAll(async () => {
  await app?.close();
});

const catalogWith = (token: string) =>
  app.inject({ url: '/api/catalog', headers: { authorization: `Bearer ${token}` } });

describe('per-purpose keys', () => {
  it('derives a distinct 32-byte key per purpose, the same one every time', () => {
    const purposes: KeyPurpose[] = ['user-token', 'approval-link', 'survey-link'];
    const keys = purposes.map((p) => deriveKey(secret, p).toString('hex'));
    expect(new Set(keys).size).toBe(3);
    for (const key of keys) expect(key).toHaveLength(64);
    expect(purposes.map((p) => deriveKey(secret, p).toString('hex'))).toEqual(keys);
    expect(deriveKey(`${secret}!`, 'user-token').toString('hex')).not.toBe(keys[0]);
  });

  it('accepts a user token made with the user-token key, and one from before a restart', async () => {
    expect((await catalogWith(userTokenWith(deriveKey(secret, 'user-token')))).statusCode).toBe(200);
    const issued = app.issueUserToken('alice');
    const restarted = await startApi(db);
    try {
      expect(
        (await restarted.inject({ url: '/api/catalog', headers: { authorization: `Bearer ${issued}` } }))
          .statusCode,
      ).toBe(200);
    } finally {
      await restarted.close();
    }
  });

  it('refuses a user token made with a link key or with the secret itself', async () => {
    for (const key of [deriveKey(secret, 'approval-link'), deriveKey(secret, 'survey-link'), secret]) {
      const res = await catalogWith(userTokenWith(key));
      expect(res.statusCode).toBe(401);
      expect(res.json<{ detail: string }>().detail).toMatch(/not one this API issued/);
    }
  });

  it('refuses an approve link signed with the user-token key or the survey-link key', () => {
    const genuine = signApprovalLink(
      secret,
      { requestId: 'REQ-KEYS1', approver: 'erin', decision: 'approve' },
      60_000,
    );
    expect(verifyApprovalLink(secret, genuine)).toMatchObject({ ok: true });
    const [payload] = genuine.split('.');
    for (const purpose of ['user-token', 'survey-link'] as const) {
      const forged = `${payload}.${createHmac('sha256', deriveKey(secret, purpose)).update(payload!).digest('base64url')}`;
      expect(verifyApprovalLink(secret, forged)).toEqual({ ok: false, reason: 'forged' });
    }
  });

  it('refuses a survey link signed with the user-token key or the approval-link key', () => {
    const genuine = signSurveyToken(secret, 'REQ-KEYS2', 'alice');
    expect(verifySurveyToken(secret, 'REQ-KEYS2', genuine)).toEqual({ ok: true, requester: 'alice' });
    for (const purpose of ['user-token', 'approval-link'] as const) {
      const mac = createHmac('sha256', deriveKey(secret, purpose))
        .update('REQ-KEYS2\nalice')
        .digest('base64url');
      const forged = `${Buffer.from('alice').toString('base64url')}.${mac}`;
      expect(verifySurveyToken(secret, 'REQ-KEYS2', forged)).toEqual({ ok: false, reason: 'forged' });
    }
  });
});
