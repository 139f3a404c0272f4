import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { seededDatabaseFile } from './helpers/seeded-file.js';
import { SURVEY_LINK_REF } from '../domain/request.js';
import { createLinks } from '../notifications/links.js';
import { createNotifications, listOutbox } from '../notifications/outbox.js';
import { verifyApprovalLink } from '../runtime/approval-links.js';
import { verifySurveyToken } from '../runtime/survey-links.js';

// The notifications aggregate on a real database (a SQLite file, or PostgreSQL): the one
// writer of the outbox and the one place its links are built.

const PUBLIC_URL = 'http://portal.test';
const SECRET = 'test-link-secret';

const file = seededDatabaseFile('notifications');
const notifications = () =>
  createNotifications({
    db: file.db,
    publicUrl: PUBLIC_URL,
    signing: { secret: SECRET, approvalTtlMs: 60_000 },
  });
const byKey = async (key: string) =>
  (await file.db.select().from(t.notifications).where(eq(t.notifications.key, key)))[0];

describe('the notifications outbox', () => {
  it('queues a message once per key, with absolute links and a survey link signed for the recipient', async () => {
    const input = {
      key: 'REQ-N1:fulfilled',
      requestId: 'REQ-N1',
      recipient: 'alice',
      subject: 'Done',
      body: 'Visio is installed.',
      links: { request: '/api/requests/REQ-N1', launch: 'ms-visio:', survey: SURVEY_LINK_REF },
    };
    expect(await notifications().notify(input)).toEqual({
      queued: true,
      links: ['request', 'launch', 'survey'],
    });
    expect((await notifications().notify({ ...input, body: 'again' })).queued).toBe(false);

    const row = (await byKey('REQ-N1:fulfilled'))!;
    expect(row.body).toBe('Visio is installed.');
    expect(row.links.request).toBe(`${PUBLIC_URL}/api/requests/REQ-N1`);
    expect(row.links.launch).toBe('ms-visio:');
    const survey = new URL(row.links.survey!);
    expect(survey.origin + survey.pathname).toBe(`${PUBLIC_URL}/surveys/REQ-N1`);
    expect(verifySurveyToken(SECRET, 'REQ-N1', survey.searchParams.get('t')!)).toEqual({
      ok: true,
      requester: 'alice',
    });
  });

  it("gives the beneficiary their own copy without the requester's signed links", async () => {
    await notifications().notify({
      key: 'REQ-N2:fulfilled',
      requestId: 'REQ-N2',
      recipient: 'bob',
      copyTo: 'alice',
      subject: 'Done',
      body: 'Installed.',
      links: { request: '/api/requests/REQ-N2', survey: SURVEY_LINK_REF },
    });
    const copy = (await byKey('REQ-N2:fulfilled:for:alice'))!;
    expect(copy.recipientId).toBe('alice');
    expect(copy.body).toBe('bob requested this on your behalf (REQ-N2).\n\nInstalled.');
    expect(copy.links).toEqual({ request: `${PUBLIC_URL}/api/requests/REQ-N2` });
  });

  it('queues nothing when the caller’s transaction rolls back', async () => {
    const n = notifications();
    await expect(
      transaction(file.db, async (tx) => {
        await n.notifyIn(tx, { key: 'REQ-N3:comment', recipient: 'alice', subject: 's', body: 'b' });
        throw new Error('the comment failed');
      }),
    ).rejects.toThrow('the comment failed');
    expect(await byKey('REQ-N3:comment')).toBeUndefined();
  });

  it('resolves groups and a device to people, one message each, with absolute links', async () => {
    await notifications().notifyPeople({
      key: 'REVIEW-1:open',
      who: ['group:service-desk', 'device:LAPTOP-CAROL', 'dave'],
      subject: 'Review',
      body: 'Please review.',
      links: { review: '/reviews?campaign=REVIEW-1' },
    });
    const rows = await file.db.select().from(t.notifications);
    const review = rows.filter((r) => r.key.startsWith('REVIEW-1:open:'));
    expect(review.map((r) => r.recipientId).sort()).toEqual(['carol', 'dave']);
    for (const r of review) expect(r.links).toEqual({ review: `${PUBLIC_URL}/reviews?campaign=REVIEW-1` });
  });

  it('sends each approver approve/deny links signed for them and this request only', async () => {
    const ask = {
      requestId: 'REQ-N4',
      level: 1,
      approvers: ['erin', 'bob'],
      kind: 'request' as const,
      subject: 'Approve?',
      body: 'b',
    };
    await notifications().notifyApprovers(ask);
    await notifications().notifyApprovers(ask);
    for (const approver of ask.approvers) {
      const row = (await byKey(`REQ-N4:approval:1:request:${approver}`))!;
      expect(row.links.request).toBe(`${PUBLIC_URL}/api/requests/REQ-N4`);
      const token = row.links.deny!.slice(`${PUBLIC_URL}/approvals/links/`.length);
      expect(verifyApprovalLink(SECRET, token)).toMatchObject({
        ok: true,
        claims: { requestId: 'REQ-N4', approver, decision: 'deny' },
      });
    }
    expect(await listOutbox(file.db, { requestId: 'REQ-N4', limit: 10 })).toHaveLength(2);
    expect(await listOutbox(file.db, { requestId: 'REQ-N4', recipient: 'erin', limit: 10 })).toHaveLength(1);
  });

  it('refuses to build a signed link without a secret rather than queue an unsigned one', () => {
    const links = createLinks({ publicUrl: PUBLIC_URL });
    expect(links.request('REQ-N5')).toBe(`${PUBLIC_URL}/api/requests/REQ-N5`);
    expect(() => links.approval('REQ-N5', 'erin')).toThrow(/signing secret/);
    expect(() =>
      links.resolve({ survey: SURVEY_LINK_REF }, { requestId: 'REQ-N5', recipient: 'alice' }),
    ).toThrow(/signing secret/);
  });
});
