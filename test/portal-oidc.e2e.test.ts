import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../scripts/dev-server.js';
import { launchBrowser, seriousViolations } from './helpers/browser.js';
import { makeSigningKey, startTestProvider, type TestProvider } from './helpers/oidc-provider.js';
import { startStack, type TestStack } from './helpers/stack.js';

// Signing in to the portal at a real OpenID provider (oidc-provider on loopback): the
// authorization-code flow with PKCE through the API (a backend-for-frontend), ending in an
// HttpOnly session cookie; the browser never holds a token of the provider.

const AUDIENCE = 'https://reqflow.test/api';
const CLIENT_ID = 'reqflow-portal';
const CLIENT_SECRET = 'portal-secret-portal-secret-portal-secret';

let stack: TestStack;
let provider: TestProvider;
let browser: Browser;

beforeAll(async () => {
  const providerPort = await freePort();
  stack = await startStack(inject('temporalAddress'), {
    REQFLOW_DEV_MODE: '0',
    REQFLOW_SECRET: 'portal-oidc-secret-portal-oidc-secret-0123',
    OIDC_ISSUER: `http://127.0.0.1:${providerPort}`,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
  });
  // Started after the API, whose port the client's redirect URI names; the API asks the
  // provider only when someone signs in.
  provider = await startTestProvider({
    port: providerPort,
    audiences: [AUDIENCE],
    keys: [await makeSigningKey('portal-key')],
    claims: (accountId) => ({ preferred_username: accountId, name: accountId }),
    redirectUris: [`${stack.apiUrl}/api/session/oidc/callback`],
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await provider?.stop();
  await stack?.stop();
});

describe('portal sign-in at the OpenID provider', () => {
  it('signs alice in with the authorization-code flow and PKCE, into an HttpOnly session cookie', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${stack.apiUrl}/requests`);
    await page.getByRole('heading', { name: 'Sign in to the service portal' }).waitFor();
    // No dev mode: no demo people to pick from.
    expect(await page.getByRole('heading', { name: /Demo people/ }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Sign in with your company account' }).click();

    // The provider's own (development) login page, then its consent page: each is submitted.
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any password');
    for (let step = 0; step < 3 && new URL(page.url()).origin === provider.issuer; step++) {
      const from = page.url();
      await Promise.all([
        page.waitForURL((url) => url.href !== from),
        page.locator('button[type="submit"]').first().click(),
      ]);
    }

    // Back in the portal, on the page the sign-in started from, as Alice.
    await page.getByRole('heading', { name: 'My requests' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/requests');
    await page.getByText('Alice Archer').waitFor();
    const session = (await context.cookies(stack.apiUrl)).find((c) => c.name === 'reqflow_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    expect(await page.evaluate('Object.keys(localStorage).length + Object.keys(sessionStorage).length')).toBe(
      0,
    );

    // The cookie is a session of this API: the portal's calls are alice's.
    const me = await page.evaluate<{ user: { id: string } }>("fetch('/api/session').then((r) => r.json())");
    expect(me.user.id).toBe('alice');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the service portal' }).waitFor();
    expect((await context.cookies(stack.apiUrl)).filter((c) => c.name === 'reqflow_session')).toEqual([]);
    await context.close();
  });

  it('refuses a callback that no sign-in in this browser started', async () => {
    const res = await fetch(`${stack.apiUrl}/api/session/oidc/callback?code=abc&state=forged`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(
      res.headers.getSetCookie().some((c) => c.startsWith('reqflow_session=') && !c.includes('Max-Age=0')),
    ).toBe(false);
  });
});
