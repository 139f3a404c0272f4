import formbody from '@fastify/formbody';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { eq } from 'drizzle-orm';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import auth from '../api/plugins/auth.js';
import problems from '../api/plugins/problems.js';
import commentRoutes from '../api/routes/comments.js';
import surveyPageRoutes from '../api/routes/survey-page.js';
import surveyRoutes from '../api/routes/surveys.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import type { RequestStatus } from '../domain/status.js';
import { signSurveyToken, surveyLink } from '../runtime/survey-links.js';
import { openTestDatabase } from './helpers/test-database.js';

// Comments and the satisfaction survey through app.inject. These routes only read
// the request projection, so requests are rows inserted here, not workflows.

const secret = 'test-secret-test-secret-test-secret!!';
const publicUrl = 'http://reqflow.test';
const nastyItem = 'Visio <script>alert("x")</script> & Co';

async function buildTestApp(db: DB) {
  const app = Fastify({ logger: false })
    .withTypeProvider<TypeBoxTypeProvider>()
    .setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(problems);
  await app.register(auth, { db, secret });
  await app.register(commentRoutes, { prefix: '/api/requests', db, config: { publicUrl } });
  await app.register(surveyRoutes, { prefix: '/api/requests', db });
  await app.register(
    async (surveys) => {
      await surveys.register(formbody);
      await surveys.register(surveyPageRoutes, { db, secret });
    },
    { prefix: '/surveys' },
  );
  await app.ready();
  return app;
}

let db: DB;
let app: Awaited<ReturnType<typeof buildTestApp>>;
const as = (user: string) => ({ authorization: `Bearer ${app.issueUserToken(user)}` });

async function insertRequest(
  id: string,
  status: RequestStatus,
  opts: { requester?: string; beneficiary?: string; item?: string } = {},
) {
  const requester = opts.requester ?? 'alice';
  await db.insert(t.requests).values({
    id,
    type: 'standard_service',
    catalogItemId: opts.item ?? 'visio',
    requesterId: requester,
    beneficiaryId: opts.beneficiary ?? requester,
    deviceId: 'LAPTOP-ALICE',
    status,
    fingerprint: `fp-${id}`,
    fulfilledAt: status === 'fulfilled' ? new Date().toISOString() : null,
  });
}

const survey = async (id: string) =>
  await db.select().from(t.surveyResponses).where(eq(t.surveyResponses.requestId, id));
const notificationsOf = async (id: string) =>
  (await db.select().from(t.notifications).where(eq(t.notifications.requestId, id))).sort((a, b) =>
    a.key.localeCompare(b.key),
  );

function expectProblem(res: { statusCode: number; headers: Record<string, unknown> }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
}
function expectHtml(res: { statusCode: number; headers: Record<string, unknown> }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toContain('text/html');
}

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  await db
    .insert(t.catalogItems)
    .values({ id: 'nasty', name: nastyItem, type: 'standard_service', description: 'escaping fixture' });
  app = await buildTestApp(db);
  await insertRequest('REQ-C0MMENT1', 'fulfilling', { beneficiary: 'carol' });
  await insertRequest('REQ-SURVEY01', 'fulfilled', { beneficiary: 'bob' });
  await insertRequest('REQ-SURVEY02', 'awaiting_approval');
  await insertRequest('REQ-PAGE0001', 'fulfilled', { item: 'nasty' });
  await insertRequest('REQ-PAGE0002', 'fulfilled');
  await insertRequest('REQ-PAGE0003', 'fulfilling');
});

afterAll(async () => {
  await app?.close();
});

describe('comments on a request', () => {
  const url = '/api/requests/REQ-C0MMENT1/comments';

  it('lets the requester comment and notifies the beneficiary only', async () => {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: as('alice'),
      payload: { body: 'Any news?' },
    });
    expect(res.statusCode).toBe(201);
    const comment = res.json<{ id: number; author: string; body: string; createdAt: string }>();
    expect(comment).toMatchObject({ author: 'alice', body: 'Any news?' });
    expect(comment.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const sent = await notificationsOf('REQ-C0MMENT1');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      key: `REQ-C0MMENT1:comment:${comment.id}:carol`,
      recipientId: 'carol',
      status: 'pending',
      links: { request: `${publicUrl}/api/requests/REQ-C0MMENT1` },
    });
    expect(sent[0]!.body).toContain('Any news?');
  });

  it('lets the beneficiary and an operator comment; the other parties are notified', async () => {
    const byCarol = await app.inject({
      method: 'POST',
      url,
      headers: as('carol'),
      payload: { body: 'Me too' },
    });
    expect(byCarol.statusCode).toBe(201);
    const byOlga = await app.inject({ method: 'POST', url, headers: as('olga'), payload: { body: 'On it' } });
    expect(byOlga.statusCode).toBe(201);
    const olgaId = byOlga.json<{ id: number }>().id;
    const recipients = (await notificationsOf('REQ-C0MMENT1')).map((n) => `${n.key}`);
    expect(recipients).toEqual(
      expect.arrayContaining([
        `REQ-C0MMENT1:comment:${byCarol.json<{ id: number }>().id}:alice`,
        `REQ-C0MMENT1:comment:${olgaId}:alice`,
        `REQ-C0MMENT1:comment:${olgaId}:carol`,
      ]),
    );
    expect(recipients).toHaveLength(4);

    const list = await app.inject({ method: 'GET', url, headers: as('carol') });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ items: { author: string; body: string }[] }>().items.map((c) => c.author)).toEqual([
      'alice',
      'carol',
      'olga',
    ]);
    // A conversation is read a page at a time; a page beyond any conversation is a 400.
    const page = await app.inject({ method: 'GET', url: `${url}?limit=1&offset=1`, headers: as('carol') });
    expect(page.json<{ items: { author: string }[] }>().items.map((c) => c.author)).toEqual(['carol']);
    const tooDeep = await app.inject({ method: 'GET', url: `${url}?offset=1000001`, headers: as('carol') });
    expect(tooDeep.statusCode).toBe(400);
    expect(tooDeep.headers['content-type']).toContain('application/problem+json');
  });

  it('hides the request from a stranger: 404 for reading and writing, nothing stored', async () => {
    const before = (await notificationsOf('REQ-C0MMENT1')).length;
    expectProblem(await app.inject({ method: 'GET', url, headers: as('dave') }), 404);
    expectProblem(
      await app.inject({ method: 'POST', url, headers: as('dave'), payload: { body: 'Hello' } }),
      404,
    );
    expect(await notificationsOf('REQ-C0MMENT1')).toHaveLength(before);
    expectProblem(
      await app.inject({
        method: 'GET',
        url: '/api/requests/REQ-UNKNOWN1/comments',
        headers: as('alice'),
      }),
      404,
    );
  });

  it('validates the comment and requires a login', async () => {
    for (const payload of [{ body: '' }, { body: 'x'.repeat(4001) }, { body: 'ok', extra: 1 }, {}]) {
      expectProblem(await app.inject({ method: 'POST', url, headers: as('alice'), payload }), 400);
    }
    expectProblem(await app.inject({ method: 'GET', url }), 401);
  });
});

describe('satisfaction survey API', () => {
  const url = '/api/requests/REQ-SURVEY01/survey';

  it('starts unanswered, and only the requester may read or answer it', async () => {
    const res = await app.inject({ method: 'GET', url, headers: as('alice') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ requestId: 'REQ-SURVEY01', answered: false });
    // bob is the beneficiary: he sees the request, but the survey is the requester's.
    expectProblem(await app.inject({ method: 'GET', url, headers: as('bob') }), 403);
    expectProblem(await app.inject({ method: 'PUT', url, headers: as('bob'), payload: { score: 5 } }), 403);
    expectProblem(await app.inject({ method: 'GET', url, headers: as('dave') }), 404);
    expectProblem(await app.inject({ method: 'PUT', url, headers: as('dave'), payload: { score: 5 } }), 404);
    expect(await survey('REQ-SURVEY01')).toHaveLength(0);
  });

  it('refuses scores outside 1..5 and non-integers', async () => {
    for (const score of [0, 6, 2.5, '3']) {
      expectProblem(await app.inject({ method: 'PUT', url, headers: as('alice'), payload: { score } }), 400);
    }
    expectProblem(
      await app.inject({
        method: 'PUT',
        url,
        headers: as('alice'),
        payload: { score: 3, comment: 'x'.repeat(2001) },
      }),
      400,
    );
    expect(await survey('REQ-SURVEY01')).toHaveLength(0);
  });

  it('answers with 409 while the request is not fulfilled', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/requests/REQ-SURVEY02/survey',
      headers: as('alice'),
      payload: { score: 4 },
    });
    expectProblem(res, 409);
    expect(await survey('REQ-SURVEY02')).toHaveLength(0);
  });

  it('records the answer, and a second answer replaces it', async () => {
    const first = await app.inject({ method: 'PUT', url, headers: as('alice'), payload: { score: 4 } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ requestId: 'REQ-SURVEY01', answered: true, score: 4 });
    const second = await app.inject({
      method: 'PUT',
      url,
      headers: as('alice'),
      payload: { score: 2, comment: 'Took a while' },
    });
    expect(second.json()).toEqual({
      requestId: 'REQ-SURVEY01',
      answered: true,
      score: 2,
      comment: 'Took a while',
    });
    const read = await app.inject({ method: 'GET', url, headers: as('alice') });
    expect(read.json()).toEqual(second.json());
    expect(await survey('REQ-SURVEY01')).toEqual([
      expect.objectContaining({ respondentId: 'alice', score: 2, comment: 'Took a while' }),
    ]);
  });
});

describe('survey page behind the notification link', () => {
  const form = (fields: Record<string, string>) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });

  it('shows the question with the item name escaped, five scores and a comment box', async () => {
    const link = surveyLink(secret, 'REQ-PAGE0001', 'alice');
    expect(link).toMatch(/^\/surveys\/REQ-PAGE0001\?t=[\w-]+\.[\w-]+$/);
    const res = await app.inject({ method: 'GET', url: link });
    expectHtml(res, 200);
    const escapedItem = 'Visio &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co';
    expect(res.body).toContain(
      `How satisfied are you with how request REQ-PAGE0001 (${escapedItem}) was handled?`,
    );
    expect(res.body).not.toContain('<script>');
    expect(res.body.match(/type="radio" name="score"/g)).toHaveLength(5);
    for (const n of [1, 2, 3, 4, 5]) expect(res.body).toContain(`value="${n}"`);
    expect(res.body).toContain('<textarea name="comment"');
  });

  it('stores a posted answer, escapes it when shown again, and a second post updates it', async () => {
    const link = surveyLink(secret, 'REQ-PAGE0001', 'alice');
    const posted = await app.inject({
      method: 'POST',
      url: link,
      ...form({ score: '5', comment: '<b>Great</b> & quick' }),
    });
    expectHtml(posted, 200);
    expect(posted.body).toContain('Thank you');
    expect(await survey('REQ-PAGE0001')).toEqual([
      expect.objectContaining({ respondentId: 'alice', score: 5, comment: '<b>Great</b> & quick' }),
    ]);

    const again = await app.inject({ method: 'GET', url: link });
    expect(again.body).toContain('&lt;b&gt;Great&lt;/b&gt; &amp; quick');
    expect(again.body).not.toContain('<b>Great</b>');
    expect(again.body).toMatch(/value="5" required checked/);

    const updated = await app.inject({ method: 'POST', url: link, ...form({ score: '3' }) });
    expectHtml(updated, 200);
    expect(await survey('REQ-PAGE0001')).toEqual([
      expect.objectContaining({ respondentId: 'alice', score: 3, comment: null }),
    ]);
    // The API sees what the page stored.
    const api = await app.inject({
      method: 'GET',
      url: '/api/requests/REQ-PAGE0001/survey',
      headers: as('alice'),
    });
    expect(api.json()).toEqual({ requestId: 'REQ-PAGE0001', answered: true, score: 3 });
  });

  it('refuses a forged token (403) and stores nothing', async () => {
    const forgedLinks = [
      surveyLink('another-secret-another-secret!!', 'REQ-PAGE0002', 'alice'),
      // Genuine, but for another request.
      `/surveys/REQ-PAGE0002?t=${signSurveyToken(secret, 'REQ-PAGE0001', 'alice')}`,
      // Genuine, but for someone who is not the requester.
      surveyLink(secret, 'REQ-PAGE0002', 'bob'),
      // The requester's name swapped into a genuine token.
      `/surveys/REQ-PAGE0002?t=${Buffer.from('alice').toString('base64url')}.${signSurveyToken(secret, 'REQ-PAGE0002', 'bob').split('.')[1]}`,
    ];
    for (const link of forgedLinks) {
      expectHtml(await app.inject({ method: 'GET', url: link }), 403);
      const res = await app.inject({ method: 'POST', url: link, ...form({ score: '1' }) });
      expectHtml(res, 403);
      expect(res.body).toContain('Nothing was changed');
    }
    expect(await survey('REQ-PAGE0002')).toHaveLength(0);
  });

  it('refuses a missing or damaged token with 400', async () => {
    expectHtml(await app.inject({ method: 'GET', url: '/surveys/REQ-PAGE0002' }), 400);
    expectHtml(
      await app.inject({ method: 'POST', url: '/surveys/REQ-PAGE0002', ...form({ score: '4' }) }),
      400,
    );
    expectHtml(await app.inject({ method: 'GET', url: '/surveys/REQ-PAGE0002?t=garbage' }), 400);
    expect(await survey('REQ-PAGE0002')).toHaveLength(0);
  });

  it('refuses an invalid score as a page, and a request that is not fulfilled with 409', async () => {
    const link = surveyLink(secret, 'REQ-PAGE0002', 'alice');
    for (const score of ['0', '6', '2.5', '']) {
      expectHtml(await app.inject({ method: 'POST', url: link, ...form({ score }) }), 400);
    }
    expect(await survey('REQ-PAGE0002')).toHaveLength(0);

    const pending = surveyLink(secret, 'REQ-PAGE0003', 'alice');
    expectHtml(await app.inject({ method: 'GET', url: pending }), 409);
    expectHtml(await app.inject({ method: 'POST', url: pending, ...form({ score: '4' }) }), 409);
    expect(await survey('REQ-PAGE0003')).toHaveLength(0);
  });

  it('answers 404 as a page for an unknown request with a genuine token', async () => {
    expectHtml(await app.inject({ method: 'GET', url: surveyLink(secret, 'REQ-NOPE0001', 'alice') }), 404);
  });
});
