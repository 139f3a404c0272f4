import { Client, Connection } from '@temporalio/client';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';
import { openTestDatabase } from './helpers/test-database.js';

// The portal's session cookie and how the API serves the portal, through app.inject with a
// real database and Temporal client. A small stand-in build (index.html and one asset) is
// served, so this file does not depend on vite having run.

let app: App;
let db: DB;
let temporal: Client;
let portalDir: string;

beforeAll(async () => {
  portalDir = mkdtempSync(join(tmpdir(), 'reqflow-portal-build-'));
  mkdirSync(join(portalDir, 'assets'));
  writeFileSync(join(portalDir, 'index.html'), '<!doctype html><title>portal</title><div id="root"></div>');
  writeFileSync(join(portalDir, 'assets/app-123.js'), 'console.log("portal");');
  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-session-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    REQFLOW_DEV_MODE: '1',
    REQFLOW_SECRET: 'session-secret-session-secret-session-secret',
    PORTAL_DIR: portalDir,
    SUBMIT_WAIT_MS: '300',
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  db = await openTestDatabase();
  await seed(db);
  const connection = await Connection.connect({ address: config.temporal.address });
  temporal = new Client({ connection, namespace: config.temporal.namespace });
  app = await buildApp({ db, temporal, config, secret: config.secret! });
});

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
});

async function sessionOf(userId: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/dev/session', payload: { userId } });
  expect(res.statusCode).toBe(200);
  const cookie = res.headers['set-cookie'];
  const line = (Array.isArray(cookie) ? cookie : [cookie]).find((c) => c?.startsWith('reqflow_session='));
  expect(line).toMatch(/HttpOnly/);
  expect(line).toMatch(/SameSite=Lax/);
  // Plain http on loopback (the dev default): a Secure cookie would never be sent back.
  expect(line).not.toMatch(/Secure/);
  return line!.split(';')[0]!;
}

const requestCount = async () => {
  const [row] = await db.select({ n: sql<number>`cast(count(*) as int)` }).from(t.requests);
  return row!.n;
};

describe('the portal session cookie', () => {
  it('authenticates reads; a write needs the CSRF header, and nothing changes without it', async () => {
    const cookie = await sessionOf('alice');
    const me = await app.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(me.json()).toMatchObject({ user: { id: 'alice', name: 'Alice Archer' }, signIn: { dev: true } });
    const catalog = await app.inject({ method: 'GET', url: '/api/catalog', headers: { cookie } });
    expect(catalog.statusCode).toBe(200);

    const before = await requestCount();
    const body = { catalogItemId: 'vpn-address', fields: { question: 'VPN?' } };
    const forged = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { cookie },
      payload: body,
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers['content-type']).toContain('application/problem+json');
    expect(forged.json<{ detail: string }>().detail).toContain('x-reqflow-csrf');
    expect(await requestCount()).toBe(before);

    const made = await app.inject({
      method: 'POST',
      url: '/api/requests',
      headers: { cookie, 'x-reqflow-csrf': '1' },
      payload: body,
    });
    expect(made.statusCode).toBe(202);
    expect(await requestCount()).toBe(before + 1);
  });

  it('leaves bearer tokens as they were: the Authorization header wins over a cookie', async () => {
    const cookie = await sessionOf('alice');
    const login = await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId: 'olga' } });
    const token = login.json<{ token: string }>().token;
    const res = await app.inject({
      method: 'GET',
      url: '/api/session',
      headers: { cookie, authorization: `Bearer ${token}` },
    });
    expect(res.json<{ user: { id: string } }>().user.id).toBe('olga');
    // A write with a bearer token needs no CSRF header: no browser sends it on its own.
    const decide = await app.inject({
      method: 'PUT',
      url: '/api/delegation',
      headers: { cookie, authorization: `Bearer ${token}` },
      payload: { delegateId: 'erin' },
    });
    expect(decide.statusCode).toBe(200);
  });

  it('refuses an altered or foreign cookie with 401, and says nobody is signed in', async () => {
    const cookie = await sessionOf('alice');
    const altered = `${cookie.slice(0, -3)}abc`;
    const res = await app.inject({ method: 'GET', url: '/api/catalog', headers: { cookie: altered } });
    expect(res.statusCode).toBe(401);
    const session = await app.inject({ method: 'GET', url: '/api/session', headers: { cookie: altered } });
    expect(session.statusCode).toBe(200);
    expect(session.json()).toMatchObject({ user: null });
    const nobody = await app.inject({ method: 'GET', url: '/api/session' });
    expect(nobody.json()).toMatchObject({ user: null, signIn: { dev: true, oidc: false } });
  });

  it('signs out by clearing the cookie', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/api/session' });
    expect(res.statusCode).toBe(204);
    expect(String(res.headers['set-cookie'])).toMatch(/^reqflow_session=; .*Max-Age=0/);
  });

  it('names people for the portal, and only to someone signed in', async () => {
    const cookie = await sessionOf('carol');
    const erin = await app.inject({ method: 'GET', url: '/api/people/erin', headers: { cookie } });
    expect(erin.json()).toEqual({ id: 'erin', name: 'Erin Evans' });
    expect((await app.inject({ method: 'GET', url: '/api/people/erin' })).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: '/api/people/nobody', headers: { cookie } })).statusCode,
    ).toBe(404);
  });

  it('lists the demo people for the dev sign-in page', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/dev/people' });
    expect(res.json<{ items: { id: string }[] }>().items.map((p) => p.id)).toEqual(
      expect.arrayContaining(['alice', 'bob', 'carol', 'dave', 'erin', 'olga']),
    );
  });
});

describe('serving the portal', () => {
  it('serves the app at / and at its own paths, with a CSP that allows its own scripts only', async () => {
    for (const url of ['/', '/catalog/visio', '/requests/REQ-ABCD1234', '/approvals', '/dashboard']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('<div id="root">');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    }
    const asset = await app.inject({ method: 'GET', url: '/assets/app-123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('keeps 404 problem+json for unknown paths, the API and the other surfaces', async () => {
    for (const url of ['/nope', '/api/nope', '/docs/nope', '/health/nope', '/metrics/nope', '/catalog/a/b']) {
      const res = await app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toContain('application/problem+json');
    }
    // SCIM speaks its own error format (RFC 7644), never the portal's page.
    const scim = await app.inject({ method: 'GET', url: '/scim/v2/nope', headers: { accept: 'text/html' } });
    expect(scim.statusCode).toBe(404);
    expect(scim.headers['content-type']).not.toContain('text/html');
  });

  it('keeps the script-free CSP on the API', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });
});
