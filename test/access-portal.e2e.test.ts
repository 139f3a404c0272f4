import { eq } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { eventually, grantRow } from './helpers/access.js';
import { launchBrowser, seriousViolations } from './helpers/browser.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// "My access" and access reviews in the portal, in a real Chromium against the real stack.

let stack: TestStack;
let browser: Browser;
const contexts: BrowserContext[] = [];
const tokens: Record<string, string> = {};
const LIVE_MS = 90_000;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  browser = await launchBrowser();
  for (const u of ['alice', 'bob', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await stack?.stop();
});

async function signedIn(name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${stack.apiUrl}/`);
  await page.getByRole('button', { name }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

const navTo = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name }).click();

describe('time-bound access in the portal', () => {
  it(
    'alice asks for 30 days, sees the end under My access, renews it; bob reviews it in his inbox',
    { timeout: 240_000 },
    async () => {
      const alice = await signedIn('Alice Archer');
      await alice.goto(`${stack.apiUrl}/catalog/financial-reporting`);
      await alice.getByRole('heading', { name: 'Financial Reporting System', level: 1 }).waitFor();
      await alice.getByLabel('For how long?').selectOption({ label: '30 days' });
      expect(await seriousViolations(alice)).toEqual([]);
      await alice.getByLabel('Why do you need it? (optional)').fill('Quarter close');
      await alice.getByRole('button', { name: 'Submit request' }).click();
      await alice.waitForURL(/\/requests\/REQ-/);
      const id = alice.url().split('/').pop()!;
      await stack.waitForRequest(tokens.alice!, id, awaitingApproval);
      const approved = await stack.call('POST', `/api/requests/${id}/approvals`, {
        token: tokens.bob,
        body: { decision: 'approve' },
      });
      expect(approved.status).toBe(200);
      await stack.waitForRequest(tokens.alice!, id, ended);
      const until = (await grantRow(stack, id))!.until!;
      const days = (Date.parse(until) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29);
      expect(days).toBeLessThanOrEqual(30);

      await navTo(alice, 'My access');
      await alice.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      const row = alice.getByRole('row').filter({ hasText: 'FIN-REPORTING-READERS' });
      await row.waitFor({ timeout: LIVE_MS });
      expect(await row.textContent()).toContain('Bob Baker');
      expect(await seriousViolations(alice)).toEqual([]);

      // A campaign over the group: bob, alice's manager, reviews her access in his inbox.
      const started = await stack.call('POST', '/api/access/reviews', {
        token: tokens.olga,
        body: {
          groups: ['FIN-REPORTING-READERS'],
          deadline: new Date(Date.now() + 3_600_000).toISOString(),
          policy: 'keep_and_escalate',
        },
      });
      expect(started.status).toBe(202);
      const campaignId = (started.body as { id: string }).id;
      await eventually(
        async () =>
          (await stack.db.select().from(t.notifications).where(eq(t.notifications.recipientId, 'bob'))).some(
            (n) => n.subject.startsWith(`Access review ${campaignId}`),
          ),
        (told) => told,
      );
      const bob = await signedIn('Bob Baker');
      await navTo(bob, 'Approvals');
      const review = bob
        .getByRole('listitem')
        .filter({ hasText: 'Does Alice Archer still need FIN-REPORTING-READERS?' });
      await review.waitFor({ timeout: LIVE_MS });
      expect(await review.textContent()).toContain('Quarter close');
      expect(await seriousViolations(bob)).toEqual([]);
      await review.getByLabel('Comment (optional)').fill('Still closing the quarter');
      await review.getByRole('button', { name: 'Keep' }).click();
      await review.waitFor({ state: 'detached', timeout: LIVE_MS });
      const [item] = await stack.db
        .select()
        .from(t.accessReviewItems)
        .where(eq(t.accessReviewItems.campaignId, campaignId));
      expect(item).toMatchObject({
        decision: 'keep',
        decidedBy: 'bob',
        comment: 'Still closing the quarter',
        outcome: 'kept',
      });

      // The reminder's link opens My access with the renewal offered; renewing is a new request.
      await alice.goto(`${stack.apiUrl}/access?renew=${id}`);
      await alice.getByRole('heading', { name: 'Renew FIN-REPORTING-READERS' }).waitFor();
      await alice
        .getByRole('region', { name: 'Renew FIN-REPORTING-READERS' })
        .getByRole('button', { name: 'Renew FIN-REPORTING-READERS' })
        .click();
      await alice.waitForURL((u) => /\/requests\/REQ-/.test(u.pathname) && !u.pathname.endsWith(id));
      const renewal = alice.url().split('/').pop()!;
      const [row2] = await stack.db.select().from(t.requests).where(eq(t.requests.id, renewal));
      expect(row2).toMatchObject({
        renewalOf: id,
        justification: 'Quarter close',
        catalogItemId: 'financial-reporting',
      });
    },
  );
});
