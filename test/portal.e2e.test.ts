import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, screenshot, seriousViolations } from './helpers/browser.js';
import { awaitingApproval, awaitingDecision, ended, startStack, type TestStack } from './helpers/stack.js';

// The self-service portal in a real Chromium against the real stack (worker, API serving the
// built portal, device agent), signed in through the portal's own dev sign-in page.

let stack: TestStack;
let browser: Browser;
const contexts: BrowserContext[] = [];
// Under CPU load a workflow takes seconds; the page must get there by itself, without a reload.
const LIVE_MS = 90_000;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), {
    DEPLOY_MAX_ATTEMPTS: '2',
    DEVICE_WAIT_TIMEOUT: '5m',
  });
  stack.startAgent('LAPTOP-ALICE');
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await stack?.stop();
});

async function signedIn(name: string, viewport = { width: 1100, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${stack.apiUrl}/`);
  await page.getByRole('heading', { name: 'Sign in to the service portal' }).waitFor();
  await page.getByRole('button', { name }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

/** A link of the portal's navigation (a page may link to the same place again). */
const navTo = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name }).click();

/** Waits until the request page says exactly this status ("Fulfilled", not "Being fulfilled"). */
const statusOf = (page: Page, words: string) =>
  page
    .getByRole('status')
    .filter({ hasText: new RegExp(`^Status: ${words}$`) })
    .waitFor({ timeout: LIVE_MS });

async function expectAccessible(page: Page) {
  expect(await seriousViolations(page)).toEqual([]);
}

describe('the self-service portal', () => {
  it('alice finds Visio, submits it for her laptop and watches it get fulfilled without reloading', async () => {
    const page = await signedIn('Alice Archer');
    await page.getByRole('heading', { name: 'Service catalog' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'catalog');
    await page.getByRole('searchbox', { name: 'Search the catalog' }).fill('visio');
    await page.getByRole('link', { name: 'Photoshop' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Microsoft Visio' }).click();
    await page.getByRole('heading', { name: 'Microsoft Visio', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'What happens next' }).waitFor();
    // Bad input: the API's problem shows on the page, and no request is made.
    await page.getByRole('button', { name: 'Submit request' }).click();
    await page.getByRole('alert').filter({ hasText: 'send deviceId' }).waitFor();
    await page.getByLabel('Device').selectOption('LAPTOP-ALICE');
    await expectAccessible(page);
    await screenshot(page, 'item');
    // A double click is one request: the form sends one Idempotency-Key.
    await page.getByRole('button', { name: 'Submit request' }).dblclick();
    await page.waitForURL(/\/requests\/REQ-/);
    const id = page.url().split('/').pop()!;
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await statusOf(page, 'Fulfilled');
    expect(navigations).toEqual([]);
    const timeline = page.getByRole('list', { name: 'Timeline' });
    await timeline.getByRole('listitem').filter({ hasText: 'Check entitlement' }).waitFor();
    await timeline
      .getByRole('listitem')
      .filter({ hasText: /Deploy\s+done/ })
      .waitFor();
    await expectAccessible(page);
    await screenshot(page, 'request');
    await page.getByRole('radio', { name: 'Very satisfied' }).check();
    await page.getByRole('button', { name: 'Send rating' }).click();
    await page.getByRole('status').filter({ hasText: 'You rated this very satisfied' }).waitFor();
    const alice = await stack.login('alice');
    const mine = await stack.call('GET', '/api/requests?limit=200', { token: alice });
    const visio = (mine.body as { items: { catalogItemId: string }[] }).items.filter(
      (r) => r.catalogItemId === 'visio',
    );
    expect(visio).toHaveLength(1);
    expect((await stack.waitForRequest(alice, id, ended)).status).toBe('fulfilled');

    await navTo(page, 'My requests');
    await page.getByRole('cell', { name: 'Fulfilled', exact: true }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'my-requests');
  });

  it('carol asks for the Financial Reporting System, erin approves from her inbox, carol sees it fulfilled', async () => {
    const carol = await signedIn('Carol Chen');
    await carol.getByRole('searchbox', { name: 'Search the catalog' }).fill('financial');
    await carol.getByRole('link', { name: 'Financial Reporting System' }).click();
    // What happens next comes from the item's own approval policy in the catalog files.
    await carol.getByText('Approved first by your manager.').waitFor({ timeout: LIVE_MS });
    await carol.getByLabel('Why do you need it? (optional)').fill('Quarter-end reporting');
    await carol.getByRole('button', { name: 'Submit request' }).click();
    await carol.waitForURL(/\/requests\/REQ-/);
    await statusOf(carol, 'Awaiting approval by Erin Evans');

    const erin = await signedIn('Erin Evans');
    await navTo(erin, 'Approvals');
    const card = erin.getByRole('listitem').filter({ hasText: 'Carol Chen' });
    await card.getByText('Quarter-end reporting').waitFor({ timeout: LIVE_MS });
    await expectAccessible(erin);
    await screenshot(erin, 'approvals');
    await card.getByLabel('Comment (optional)').fill('Fine for the quarter');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.waitFor({ state: 'detached' });

    await statusOf(carol, 'Fulfilled');
    await carol.getByText('Fine for the quarter').waitFor();
  });

  it('dave completes a procurement task from his queue', async () => {
    const [alice, bob] = await Promise.all([stack.login('alice'), stack.login('bob')]);
    const posted = await stack.submit(alice, {
      catalogItemId: 'second-monitor',
      justification: 'Code review',
    });
    await stack.waitForRequest(alice, posted.id, awaitingApproval);
    const approved = await stack.call('POST', `/api/requests/${posted.id}/approvals`, {
      token: bob,
      body: { decision: 'approve' },
    });
    expect(approved.status).toBe(200);
    await stack.waitForRequest(alice, posted.id, (r) =>
      r.steps.some((s) => s.name === 'supplier_order' && s.state === 'waiting'),
    );

    const dave = await signedIn('Dave Diaz');
    await navTo(dave, 'Tasks');
    const task = dave.getByRole('listitem').filter({ hasText: posted.id });
    await task.waitFor({ timeout: LIVE_MS });
    await task.getByRole('button', { name: /^Claim/ }).click();
    await task.getByLabel('Outcome').waitFor();
    await expectAccessible(dave);
    await screenshot(dave, 'tasks');
    await task.getByLabel('Outcome').selectOption('ordered');
    await task.getByRole('button', { name: 'Complete task' }).click();
    await stack.waitForRequest(alice, posted.id, (r) =>
      r.steps.some((s) => s.name === 'supplier_order' && s.state === 'completed'),
    );
  });

  it('olga retries a failed deployment from the dashboard', async () => {
    const alice = await stack.login('alice');
    const posted = await stack.submit(alice, { catalogItemId: 'blocked-tool', deviceId: 'LAPTOP-ALICE' });
    // The failed deployment waits for an operator's decision.
    await stack.waitForRequest(alice, posted.id, awaitingDecision);

    const olga = await signedIn('Olga Olsen');
    await navTo(olga, 'Dashboard');
    const card = olga.getByRole('listitem').filter({ hasText: posted.id });
    await card.waitFor({ timeout: LIVE_MS });
    expect(
      await card.getByRole('link', { name: `Open ${posted.id} in Temporal UI` }).getAttribute('href'),
    ).toContain(posted.id);
    await expectAccessible(olga);
    await screenshot(olga, 'dashboard');
    // The operator fixes the device, then retries.
    writeFileSync(join(stack.dataDir, 'devices/LAPTOP-ALICE/root/.blocked-tool-fixed'), 'fixed\n');
    await card.getByLabel(/^Reason/).fill('Freed disk space');
    expect(await card.getByRole('button', { name: 'Give up' }).isVisible()).toBe(true);
    await card.getByRole('button', { name: 'Retry' }).click();
    await card.waitFor({ state: 'detached', timeout: LIVE_MS });
    const done = await stack.waitForRequest(alice, posted.id, ended, LIVE_MS);
    expect(done.status).toBe('fulfilled');
  });

  it('works by keyboard alone: from the search box to an item page', async () => {
    const page = await signedIn('Bob Baker');
    const focused = () =>
      page.evaluate<string>('document.activeElement?.id || document.activeElement?.textContent || ""');
    const tabTo = async (target: string) => {
      for (let i = 0; i < 40 && (await focused()) !== target; i++) await page.keyboard.press('Tab');
      expect(await focused()).toBe(target);
    };
    await page.getByRole('heading', { name: 'Service catalog' }).waitFor();
    await tabTo('catalog-search');
    await page.keyboard.type('monitor');
    await tabTo('Second monitor');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Second monitor', level: 1 }).waitFor();
    await tabTo('Submit request');
  });

  it('works at 375 px wide, and signing out ends the session', async () => {
    const page = await signedIn('Bob Baker', { width: 375, height: 800 });
    await page.getByRole('heading', { name: 'Service catalog' }).waitFor();
    await page.getByRole('link', { name: 'Second monitor' }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await expectAccessible(page);
    await screenshot(page, 'catalog-375');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the service portal' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'sign-in');
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([]);
    const cookies = await page.context().cookies();
    expect(cookies.filter((c) => c.name === 'reqflow_session')).toEqual([]);
  });
});
