import { MockActivityEnvironment } from '@temporalio/testing';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { eq } from 'drizzle-orm';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKnowledgeActivities } from '../activities/knowledge.js';
import auth from '../api/plugins/auth.js';
import problems from '../api/plugins/problems.js';
import knowledgeRoutes from '../api/routes/knowledge.js';
import { closeDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { openTestDatabase } from './helpers/test-database.js';
import { searchKnowledge, toFtsQuery, toFtsTerms, type KnowledgeHit } from '../knowledge/search.js';

// Knowledge search over the seeded articles in a fresh migrated database: the FTS5
// index is kept by triggers, so every test here also checks migration 0005.

let db: DB;

beforeEach(async () => {
  db = await openTestDatabase();
  await seed(db);
});

afterEach(async () => {
  await closeDatabase(db);
});

const ids = async (query: string, limit?: number) =>
  (await searchKnowledge(db, query, limit)).map((h) => h.id);

async function addArticle(id: string, title: string, body: string, tags = '') {
  await db.insert(t.knowledgeArticles).values({ id, title, body, tags });
}

describe('searchKnowledge', () => {
  it('answers "What\'s the VPN server address?" with the VPN article first', async () => {
    const [top, ...rest] = await searchKnowledge(db, "What's the VPN server address?");
    expect(top).toMatchObject({ id: 'KB-VPN-ADDRESS', title: expect.stringContaining('VPN') as string });
    expect(top!.body).toContain('vpn.example.com');
    expect(top!.snippet).toContain('[VPN]');
    for (const hit of rest) expect(hit.score).toBeLessThan(top!.score);
  });

  it('finds the article a plain question is about', async () => {
    expect((await ids('I forgot my password'))[0]).toBe('KB-PASSWORD-RESET');
    expect((await ids('guest wifi'))[0]).toBe('KB-GUEST-WIFI');
    expect((await ids('The new expense system is confusing'))[0]).toBe('KB-EXPENSE-SYSTEM');
    expect((await ids('no sound in teams'))[0]).toBe('KB-TEAMS-AUDIO');
    // Prefixes and stems: "conn" finds "connect", "printing" finds "printer".
    expect(await ids('conn')).toContain('KB-VPN-ADDRESS');
    expect((await ids('printing'))[0]).toBe('KB-PRINTER-SETUP');
  });

  it('ranks a title match above the same word in another body', async () => {
    await addArticle(
      'KB-T-BODY',
      'Unrelated heading',
      'The zorbulator zorbulator needs a restart now and then.',
    );
    await addArticle('KB-T-TITLE', 'Zorbulator basics', 'How the device works.');
    expect(await ids('zorbulator')).toEqual(['KB-T-TITLE', 'KB-T-BODY']);
  });

  it('returns scores best first and honours the limit', async () => {
    const hits = await searchKnowledge(db, 'vpn server address printer mfa phone', 3);
    expect(hits).toHaveLength(3);
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
  });

  it('tells an answer from a single shared word by coverage', async () => {
    expect((await searchKnowledge(db, "What's the VPN server address?"))[0]?.coverage).toBe(1);
    // "office" is in a printer title and "own" prefixes "owner": hits, but not answers.
    const offTopic = await searchKnowledge(db, 'Can I bring my own sourdough starter to the office fridge?');
    expect(offTopic.length).toBeGreaterThan(0);
    for (const hit of offTopic) expect(hit.coverage).toBeLessThan(0.5);
  });

  it('returns nothing for a question of stop words only', async () => {
    expect(toFtsQuery('What is the ... how do I?')).toBeUndefined();
    expect(await searchKnowledge(db, 'What is the ... how do I?')).toEqual([]);
    expect(await searchKnowledge(db, '   ')).toEqual([]);
  });

  it.each([
    '"',
    '*',
    'AND OR NOT',
    'vpn -',
    '(',
    ')',
    '😀🔥',
    'NEAR(vpn server, 2)',
    'title:vpn',
    '{title body}: vpn',
    '-vpn ^server',
    '"vpn" AND "',
    "'; DROP TABLE knowledge_articles; --",
    'vpn\u0000server',
    '\u0301',
    '漢字 العربية',
    'x'.repeat(5000),
    'vpn '.repeat(500),
  ])('never lets %j reach MATCH as syntax', async (input) => {
    const hits = await searchKnowledge(db, input);
    expect(Array.isArray(hits)).toBe(true);
  });

  it('quotes every term it keeps', async () => {
    expect(toFtsQuery("What's the VPN server address?")).toBe('"vpn"* OR "server"* OR "address"*');
    expect(toFtsQuery('NEAR(vpn) OR pc')).toBe('"near"* OR "vpn"* OR "pc"');
    expect(toFtsTerms('vpn VPN Vpn')).toEqual(['"vpn"*']);
  });

  it('follows an edited article through the update trigger', async () => {
    await db
      .update(t.knowledgeArticles)
      .set({
        title: 'Remote access with the new Zscaler client',
        body: 'Install Zscaler from the catalog.',
        tags: 'remote zscaler',
      })
      .where(eq(t.knowledgeArticles.id, 'KB-VPN-ADDRESS'));
    expect(await ids('zscaler')).toEqual(['KB-VPN-ADDRESS']);
    expect(await ids('globalprotect')).toEqual([]);
  });

  it('forgets a deleted article', async () => {
    await db.delete(t.knowledgeArticles).where(eq(t.knowledgeArticles.id, 'KB-VPN-ADDRESS'));
    expect(await ids('globalprotect')).toEqual([]);
    expect(await ids("What's the VPN server address?")).not.toContain('KB-VPN-ADDRESS');
  });

  it('keeps the seed idempotent', async () => {
    await seed(db);
    expect(await ids('globalprotect')).toEqual(['KB-VPN-ADDRESS']);
  });
});

describe('searchKnowledge activity', () => {
  it('returns the same hits as the function', async () => {
    const acts = createKnowledgeActivities({
      db,
      packagesDirs: [],
      publicUrl: 'http://portal.test',
      linkSecret: 'test-link-secret',
      linkTtlMs: 60_000,
    });
    const search = acts.searchKnowledge;
    const hits = await new MockActivityEnvironment().run<
      Parameters<typeof search>,
      KnowledgeHit[],
      typeof search
    >(search, { query: "What's the VPN server address?", limit: 2 });
    expect(hits.map((h) => h.id)).toEqual(await ids("What's the VPN server address?", 2));
    expect(hits[0]?.id).toBe('KB-VPN-ADDRESS');
  });
});

describe('GET /api/knowledge', () => {
  // The route alone on the same pieces api/app.ts uses (validator, problems, auth):
  // no Temporal client needed.
  let app: FastifyInstance;
  let apiDb: DB;
  let token: string;

  beforeAll(async () => {
    apiDb = await openTestDatabase();
    await seed(apiDb);
    app = Fastify().withTypeProvider<TypeBoxTypeProvider>().setValidatorCompiler(TypeBoxValidatorCompiler);
    await app.register(problems);
    await app.register(auth, { db: apiDb, secret: 'knowledge-test-secret-knowledge-test' });
    await app.register(knowledgeRoutes, { prefix: '/api/knowledge', db: apiDb });
    await app.ready();
    token = app.issueUserToken('carol');
  });

  afterAll(async () => {
    await app?.close();
  });

  const get = (url: string, withToken = true) =>
    app.inject({ url, headers: withToken ? { authorization: `Bearer ${token}` } : {} });

  function expectProblem(res: Awaited<ReturnType<typeof get>>, status: number) {
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json<{ status: number }>().status).toBe(status);
  }

  it('refuses a caller without a token', async () => {
    expectProblem(await get('/api/knowledge?q=vpn', false), 401);
    expectProblem(await get('/api/knowledge/KB-VPN-ADDRESS', false), 401);
  });

  it('rejects a missing, empty or overlong q and an out-of-range limit', async () => {
    expectProblem(await get('/api/knowledge'), 400);
    expectProblem(await get('/api/knowledge?q='), 400);
    expectProblem(await get(`/api/knowledge?q=${'a'.repeat(201)}`), 400);
    expectProblem(await get('/api/knowledge?q=vpn&limit=0'), 400);
    expectProblem(await get('/api/knowledge?q=vpn&limit=21'), 400);
  });

  it('answers a question with ranked hits', async () => {
    const res = await get(`/api/knowledge?q=${encodeURIComponent("What's the VPN server address?")}`);
    expect(res.statusCode).toBe(200);
    const { items } = res.json<{ items: { id: string; snippet: string; score: number }[] }>();
    expect(items[0]).toMatchObject({ id: 'KB-VPN-ADDRESS', coverage: 1 });
    expect(items.length).toBeLessThanOrEqual(5);
    expect(items[0]!.score).toBeGreaterThan(0);
  });

  it('honours limit and survives FTS5 syntax in q', async () => {
    const one = await get('/api/knowledge?q=vpn%20server%20printer&limit=1');
    expect(one.json<{ items: unknown[] }>().items).toHaveLength(1);
    const hostile = await get(`/api/knowledge?q=${encodeURIComponent('"( AND *')}`);
    expect(hostile.statusCode).toBe(200);
    expect(hostile.json()).toEqual({ items: [] });
  });

  it('returns one article, and 404 for a missing one', async () => {
    const res = await get('/api/knowledge/KB-VPN-ADDRESS');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: 'KB-VPN-ADDRESS',
      body: expect.stringContaining('vpn.example.com') as string,
      tags: expect.arrayContaining(['vpn', 'globalprotect']) as string[],
    });
    expectProblem(await get('/api/knowledge/KB-NOPE'), 404);
  });
});
