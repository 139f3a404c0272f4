import { Client, Connection } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendAudit, auditHash } from '../audit/log.js';
import { buildApp, type App } from '../api/app.js';
import { verifyAuditChain } from '../audit/verify.js';
import {
  closeDatabase,
  databaseDialect,
  execute,
  openDatabase,
  openPostgresDatabase,
  type DB,
} from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig, repoRoot } from '../runtime/config.js';
import { newPostgresDatabase, onPostgres, openTestDatabase } from './helpers/test-database.js';

// The audit log is append-only twice over: triggers refuse UPDATE and DELETE, and
// the hash chain names the entry an attacker changed after dropping the triggers.
// Every log here is a real migrated database of its own, as `npm run audit:verify` sees it:
// a SQLite file in a fresh DATA_DIR, or a PostgreSQL database named by its URL.

const dirs: string[] = [];
const open: DB[] = [];

/**
 * A migrated database of its own (a file in a fresh DATA_DIR, or a PostgreSQL database at
 * `databaseUrl`) with `count` entries appended by the real appendAudit.
 */
async function auditLogWith(count: number, requestIdOf = (i: number) => `REQ-TEST${i % 2}`) {
  const dataDir = mkdtempSync(join(tmpdir(), 'reqflow-audit-'));
  dirs.push(dataDir);
  const databaseUrl = onPostgres ? await newPostgresDatabase() : undefined;
  // The template the URL was copied from is migrated already.
  const db = databaseUrl
    ? await openPostgresDatabase(databaseUrl, { migrate: false })
    : openDatabase(join(dataDir, 'reqflow.db'));
  open.push(db);
  for (let i = 1; i <= count; i++) {
    await appendAudit(db, new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), {
      key: `entry-${i}`,
      actor: i % 2 ? 'bob' : 'workflow',
      action: i % 2 ? 'approval.approved' : 'access.granted',
      requestId: requestIdOf(i),
      subject: 'FIN-REPORTING-READERS',
      details: { step: i, group: 'FIN-REPORTING-READERS', nested: { by: ['bob'] } },
    });
  }
  return { dataDir, databaseUrl, db };
}

/** What an attacker with access to the database does first: the triggers would refuse the edit. */
async function dropTriggers(db: DB) {
  const on = databaseDialect(db) === 'postgres' ? sql` ON audit_log` : sql``;
  await execute(db, sql`DROP TRIGGER audit_log_no_update${on}`);
  await execute(db, sql`DROP TRIGGER audit_log_no_delete${on}`);
}

/** What the database said when it refused a statement: the error and its causes (drizzle wraps the driver's). */
async function refusalOf(statement: Promise<unknown>): Promise<string> {
  try {
    await statement;
  } catch (err) {
    const said: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) said.push(e.message);
    return said.join('\n');
  }
  return 'not refused';
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => closeDatabase(db)));
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('verifyAuditChain', () => {
  it('verifies a clean chain and reports its last hash', async () => {
    const { db } = await auditLogWith(12);
    const last = (await db.select().from(t.auditLog).orderBy(t.auditLog.seq)).at(-1);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, entries: 12, lastHash: last?.hash });
  });

  it('verifies an empty log', async () => {
    const { db } = await auditLogWith(0);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, entries: 0 });
  });

  // 2,100 appends, a transaction each: on PostgreSQL under CI load that outlasts the default timeout.
  it('walks past a page boundary', { timeout: 300_000 }, async () => {
    const { db } = await auditLogWith(2100);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, entries: 2100 });
  });

  it('names the entry whose details were changed behind the dropped triggers', async () => {
    const { db } = await auditLogWith(10);
    await dropTriggers(db);
    const details = JSON.stringify({ step: 7, group: 'FIN-ADMINS', nested: { by: ['bob'] } });
    await execute(db, sql`UPDATE audit_log SET details = ${details} WHERE seq = 7`);
    expect(await verifyAuditChain(db)).toEqual({
      ok: false,
      entries: 6,
      brokenAt: 7,
      reason: 'entry 7: content does not match its hash (changed after it was written)',
    });
  });

  // SQLite stores any text in the details column; PostgreSQL's json column refuses it (below).
  it.skipIf(onPostgres)('names an entry whose details are no longer JSON', async () => {
    const { db } = await auditLogWith(5);
    await dropTriggers(db);
    await execute(db, sql`UPDATE audit_log SET details = 'oops' WHERE seq = 4`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, brokenAt: 4 });
  });

  it.runIf(onPostgres)('keeps details JSON even behind the dropped triggers', async () => {
    const { db } = await auditLogWith(5);
    await dropTriggers(db);
    await expect(
      refusalOf(execute(db, sql`UPDATE audit_log SET details = 'oops' WHERE seq = 4`)),
    ).resolves.toMatch(/invalid input syntax for type json/);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, entries: 5 });
  });

  it('catches a changed entry whose hash was recomputed at the next link', async () => {
    const { db } = await auditLogWith(10);
    await dropTriggers(db);
    // A careful attacker rehashes the entry they changed; entry 8 still points at the old hash.
    const [original] = await db.select().from(t.auditLog).where(eq(t.auditLog.seq, 7));
    if (!original) throw new Error('entry 7 was appended above');
    const forged = { ...original, actor: 'mallory' };
    await execute(
      db,
      sql`UPDATE audit_log SET actor = ${forged.actor}, hash = ${auditHash(forged)} WHERE seq = 7`,
    );
    expect(await verifyAuditChain(db)).toEqual({
      ok: false,
      entries: 7,
      brokenAt: 8,
      reason: 'entry 8: prevHash does not match entry 7',
    });
  });

  it('names the prevHash break when an entry is re-chained', async () => {
    const { db } = await auditLogWith(10);
    await dropTriggers(db);
    await execute(db, sql`UPDATE audit_log SET prev_hash = ${'f'.repeat(64)} WHERE seq = 8`);
    expect(await verifyAuditChain(db)).toMatchObject({
      ok: false,
      brokenAt: 8,
      reason: 'entry 8: prevHash does not match entry 7',
    });
  });

  it('names a deleted middle entry, and a deleted first entry', async () => {
    const { db } = await auditLogWith(10);
    await dropTriggers(db);
    await execute(db, sql`DELETE FROM audit_log WHERE seq = 5`);
    expect(await verifyAuditChain(db)).toEqual({
      ok: false,
      entries: 4,
      brokenAt: 5,
      reason: 'entry 5 is missing (deleted?)',
    });
    await execute(db, sql`DELETE FROM audit_log WHERE seq = 1`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, brokenAt: 1, entries: 0 });
  });
});

describe('appendAudit', () => {
  it('chains appends made at the same time in order, and appends a repeated key once', async () => {
    const { db } = await auditLogWith(0);
    const at = new Date().toISOString();
    const entry = (i: number) => ({ key: `same-time-${i % 15}`, actor: 'workflow', action: `step.${i}` });
    const rows = await Promise.all(Array.from({ length: 30 }, (_, i) => appendAudit(db, at, entry(i))));
    // A retried key answers with the entry it made the first time.
    expect(rows.slice(15).map((r) => r.seq)).toEqual(rows.slice(0, 15).map((r) => r.seq));
    expect(new Set(rows.map((r) => r.seq)).size).toBe(15);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, entries: 15 });
  });
});

describe('append-only triggers', () => {
  it('refuse a plain UPDATE and DELETE', async () => {
    const { db } = await auditLogWith(3);
    await expect(
      refusalOf(execute(db, sql`UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`)),
    ).resolves.toMatch(/append-only/);
    await expect(refusalOf(execute(db, sql`DELETE FROM audit_log WHERE seq = 2`))).resolves.toMatch(
      /append-only/,
    );
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, entries: 3 });
  });
});

describe('npm run audit:verify', () => {
  /** The script as a real process, against DATA_DIR like an operator would run it. */
  function auditVerify(
    dataDir: string,
    databaseUrl?: string,
  ): Promise<{ code: number | null; output: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir };
    delete env.DATABASE_FILE;
    delete env.DATABASE_URL;
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts'], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  it('exits 0 on a clean log', async () => {
    const { dataDir, databaseUrl } = await auditLogWith(4);
    const { code, output } = await auditVerify(dataDir, databaseUrl);
    expect(output).toMatch(/^audit log OK: 4 entries, last hash [0-9a-f]{64}$/m);
    expect(code).toBe(0);
  });

  it('exits 1 naming the tampered entry', async () => {
    const { dataDir, databaseUrl, db } = await auditLogWith(6);
    await dropTriggers(db);
    await execute(db, sql`UPDATE audit_log SET details = '{"step":3}' WHERE seq = 3`);
    const { code, output } = await auditVerify(dataDir, databaseUrl);
    expect(output).toContain('audit log BROKEN at entry 3: entry 3: content does not match its hash');
    expect(code).toBe(1);
  });

  // The SQLite file is missing; its PostgreSQL counterpart names a database that is not there.
  it.skipIf(onPostgres)('exits 2 when there is no database to check', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'reqflow-audit-none-'));
    dirs.push(dataDir);
    const { code, output } = await auditVerify(dataDir);
    expect(output).toContain('no database at');
    expect(code).toBe(2);
  });

  it.runIf(onPostgres)('exits 2 when the database DATABASE_URL names is not there', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'reqflow-audit-none-'));
    dirs.push(dataDir);
    const url = new URL(await newPostgresDatabase());
    url.pathname = '/no_such_database';
    const { code, output } = await auditVerify(dataDir, url.toString());
    expect(output).toContain('audit:verify could not check the log');
    expect(code).toBe(2);
  });
});

describe('GET /api/audit', () => {
  let app: App;
  let temporal: Client;
  let db: DB;
  const config = loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-audit-api-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    REQFLOW_DEV_MODE: '1',
    REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
  });
  dirs.push(config.dataDir);
  const as = (user: string) => ({ authorization: `Bearer ${app.issueUserToken(user)}` });
  /** Entries the seed's directory changes wrote before this block's own. */
  let base = 0;

  beforeAll(async () => {
    db = onPostgres ? await openTestDatabase() : openDatabase(config.databaseFile);
    await seed(db);
    base = (await db.select().from(t.auditLog)).length;
    // The seeded auditors group is empty; carol checks the books, so she audits here.
    await db.insert(t.groupMembers).values({ groupId: 'auditors', userId: 'carol' });
    for (let i = 1; i <= 6; i++) {
      await appendAudit(db, new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), {
        key: `api-${i}`,
        actor: 'workflow',
        action: `step.${i}`,
        requestId: i % 2 ? 'REQ-AUDITAPI1' : 'REQ-AUDITAPI2',
        details: { i },
      });
    }
    const connection = await Connection.connect({ address: config.temporal.address });
    temporal = new Client({ connection, namespace: config.temporal.namespace });
    app = await buildApp({ db, temporal, config, secret: config.secret! });
  });

  afterAll(async () => {
    await app?.close();
    await temporal?.connection.close();
    if (db) await closeDatabase(db);
  });

  it("gives an operator one request's trail in seq order", async () => {
    const res = await app.inject({ url: '/api/audit?requestId=REQ-AUDITAPI1', headers: as('olga') });
    expect(res.statusCode).toBe(200);
    const { items } = res.json<{ items: { seq: number; requestId: string; details: unknown }[] }>();
    expect(items.map((e) => e.seq)).toEqual([base + 1, base + 3, base + 5]);
    expect(items.every((e) => e.requestId === 'REQ-AUDITAPI1')).toBe(true);
    expect(items[0]).toMatchObject({ actor: 'workflow', action: 'step.1', details: { i: 1 } });
    const [previous] = await db.select().from(t.auditLog).where(eq(t.auditLog.seq, base));
    expect(items[0]).toHaveProperty('prevHash', previous?.hash ?? '0'.repeat(64));
  });

  it('pages with limit and offset and refuses a limit over 1000', async () => {
    const res = await app.inject({ url: '/api/audit?limit=2&offset=2', headers: as('olga') });
    expect(res.json<{ items: { seq: number }[] }>().items.map((e) => e.seq)).toEqual([3, 4]);
    expect((await app.inject({ url: '/api/audit?limit=1001', headers: as('olga') })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/audit?requestId=nope', headers: as('olga') })).statusCode).toBe(
      400,
    );
  });

  it('is open to the auditors group and closed to everyone else', async () => {
    expect((await app.inject({ url: '/api/audit', headers: as('carol') })).statusCode).toBe(200);
    const res = await app.inject({ url: '/api/audit', headers: as('alice') });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect((await app.inject({ url: '/api/audit/verify', headers: as('alice') })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/audit' })).statusCode).toBe(401);
  });

  it('says the chain is intact at /api/audit/verify', async () => {
    const res = await app.inject({ url: '/api/audit/verify', headers: as('carol') });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ ok: boolean; entries: number; lastHash: string }>();
    expect(body).toMatchObject({ ok: true, entries: base + 6 });
    expect(body.lastHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the broken entry at /api/audit/verify', async () => {
    // Runs last in this block: it tampers with the shared log.
    await dropTriggers(db);
    await execute(db, sql`UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`);
    const res = await app.inject({ url: '/api/audit/verify', headers: as('olga') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: false, entries: 1, brokenAt: 2 });
  });
});
