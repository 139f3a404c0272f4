import { Client, Connection } from '@temporalio/client';
import { and, eq, gt } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import { verifyAuditChain } from '../audit/verify.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import {
  deviceIdFor,
  DeviceRefusedError,
  deviceTokenFile,
  enrollDevice,
  ensureDeviceToken,
  findDeviceByToken,
  getDevice,
  hashDeviceToken,
  issueEnrollment,
  unenrollDevice,
  type DeviceRefusal,
} from '../devices/index.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { openTestDatabase } from './helpers/test-database.js';

// The devices aggregate over a real database (in-memory SQLite, or PostgreSQL), then its HTTP routes
// through app.inject with a real Temporal client (no worker needed: nothing here starts
// a workflow).

/** The audit sequence number the seed ended at, per database: tests look at what came after. */
const seededUpTo = new WeakMap<DB, number>();

async function freshDb(): Promise<DB> {
  const db = await openTestDatabase();
  await seed(db);
  seededUpTo.set(db, (await db.select().from(t.auditLog)).length);
  return db;
}

const laptop = { hostname: 'dana-laptop.corp.example', platform: 'linux' };
const HOUR = 3600_000;

async function refusal(work: Promise<unknown>): Promise<DeviceRefusal> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeviceRefusedError);
  return (err as DeviceRefusedError).reason;
}

// The seed writes the directory's and its laptops' entries first; these tests look at what follows.
const auditActions = async (db: DB) =>
  (
    await db
      .select()
      .from(t.auditLog)
      .where(gt(t.auditLog.seq, seededUpTo.get(db) ?? 0))
      .orderBy(t.auditLog.seq)
  ).map((e) => [e.action, e.subject, e.actor]);

describe('the devices aggregate', () => {
  it('issues an enrollment token of which only the hash is stored, audited', async () => {
    const db = await freshDb();
    const now = new Date('2026-03-01T10:00:00.000Z');
    const issued = await issueEnrollment(db, { ownerId: 'alice', createdBy: 'olga' }, now);
    expect(issued).toMatchObject({ ownerId: 'alice', expiresAt: '2026-03-02T10:00:00.000Z' });
    expect(issued.id).toMatch(/^ENR-[0-9A-F]{12}$/);
    expect(issued.token.length).toBeGreaterThanOrEqual(43);
    const [row] = await db.select().from(t.deviceEnrollments).where(eq(t.deviceEnrollments.id, issued.id));
    expect(row).toMatchObject({ tokenHash: hashDeviceToken(issued.token), createdBy: 'olga', usedAt: null });
    expect(JSON.stringify(row)).not.toContain(issued.token);
    expect(await auditActions(db)).toEqual([['device.enrollment_issued', issued.id, 'olga']]);

    expect(await refusal(issueEnrollment(db, { ownerId: 'mallory', createdBy: 'olga' }))).toBe(
      'owner_unknown',
    );
    await db.update(t.users).set({ active: false }).where(eq(t.users.id, 'carol'));
    expect(await refusal(issueEnrollment(db, { ownerId: 'carol', createdBy: 'olga' }))).toBe('owner_unknown');
  });

  it("enrolls a device for the token's owner once: device, CMDB CI, its own token, audit", async () => {
    const db = await freshDb();
    const { token: enrollment, id: enrollmentId } = await issueEnrollment(db, {
      ownerId: 'alice',
      createdBy: 'olga',
    });
    const enrolled = await enrollDevice(db, enrollment, laptop);
    expect(enrolled).toMatchObject({ deviceId: 'DANA-LAPTOP', ownerId: 'alice' });
    expect(enrolled.token).not.toBe(enrollment);

    expect(await getDevice(db, 'DANA-LAPTOP')).toMatchObject({
      ownerId: 'alice',
      platform: 'linux',
      hostname: laptop.hostname,
      state: 'enrolled',
      unenrolledAt: null,
    });
    const [row] = await db.select().from(t.devices).where(eq(t.devices.id, 'DANA-LAPTOP'));
    expect(row?.tokenHash).toBe(hashDeviceToken(enrolled.token));
    expect(row?.enrolledAt).toBeTruthy();
    expect(await findDeviceByToken(db, enrolled.token)).toEqual({ id: 'DANA-LAPTOP' });
    const [ci] = await db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, 'DANA-LAPTOP'));
    expect(ci).toMatchObject({ ciClass: 'computer', attributes: { owner: 'alice', platform: 'linux' } });
    expect(
      (
        await db.select().from(t.deviceEnrollments).where(eq(t.deviceEnrollments.id, enrollmentId)).limit(1)
      )[0],
    ).toMatchObject({ deviceId: 'DANA-LAPTOP', usedAt: row?.enrolledAt });
    expect((await auditActions(db)).at(-1)).toEqual(['device.enrolled', 'DANA-LAPTOP', 'device:DANA-LAPTOP']);

    expect(await refusal(enrollDevice(db, enrollment, { ...laptop, hostname: 'other' }))).toBe('token_used');
    expect(await refusal(enrollDevice(db, 'not-a-token', laptop))).toBe('token_unknown');
    expect((await db.select().from(t.devices).where(eq(t.devices.id, 'OTHER')).limit(1))[0]).toBeUndefined();
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  it('refuses an expired token and one whose owner left since it was issued', async () => {
    const db = await freshDb();
    const issuedAt = new Date('2026-03-01T10:00:00.000Z');
    const { token } = await issueEnrollment(
      db,
      { ownerId: 'bob', createdBy: 'olga', expiresInSeconds: 3600 },
      issuedAt,
    );
    expect(await refusal(enrollDevice(db, token, laptop, new Date(issuedAt.getTime() + HOUR)))).toBe(
      'token_expired',
    );
    const second = await issueEnrollment(db, { ownerId: 'bob', createdBy: 'olga' });
    await db.update(t.users).set({ active: false }).where(eq(t.users.id, 'bob'));
    expect(await refusal(enrollDevice(db, second.token, laptop))).toBe('owner_inactive');
    // Neither attempt spent its token or left a device behind.
    expect(
      (await db.select().from(t.deviceEnrollments).where(eq(t.deviceEnrollments.createdBy, 'olga'))).every(
        (e) => e.usedAt === null,
      ),
    ).toBe(true);
    expect(await getDevice(db, 'DANA-LAPTOP')).toBeUndefined();
    await expect(
      issueEnrollment(db, { ownerId: 'alice', createdBy: 'olga', expiresInSeconds: 8 * 24 * 3600 }),
    ).rejects.toThrow(RangeError);
  });

  it('names devices from the requested id or the hostname, upper-cased, sanitized and unique', async () => {
    expect(deviceIdFor({ hostname: 'alice-laptop.corp.example' })).toBe('ALICE-LAPTOP');
    expect(deviceIdFor({ hostname: 'x', deviceId: ' my_pc 2 ' })).toBe('MY-PC-2');
    expect(deviceIdFor({ hostname: '../../etc' })).toBe('DEVICE');
    expect(deviceIdFor({ hostname: 'h', deviceId: '--Lab..Box--' })).toBe('LAB-BOX');
    expect(deviceIdFor({ hostname: 'a'.repeat(80) })).toHaveLength(60);

    const db = await freshDb();
    const enrollAs = async (input: { hostname: string; deviceId?: string }) => {
      const { token } = await issueEnrollment(db, { ownerId: 'alice', createdBy: 'olga' });
      return (await enrollDevice(db, token, { platform: 'linux', ...input })).deviceId;
    };
    expect(await enrollAs({ hostname: 'h', deviceId: 'laptop-alice' })).toBe('LAPTOP-ALICE-2');
    expect(await enrollAs({ hostname: 'h', deviceId: 'LAPTOP-ALICE' })).toBe('LAPTOP-ALICE-3');
    // A CMDB CI's id is taken too: the device's CI shares its id.
    await db
      .insert(t.cmdbCis)
      .values({ id: 'HW-MON-0042', ciClass: 'hardware_asset', name: 'Monitor', attributes: {} });
    expect(await enrollAs({ hostname: 'hw-mon-0042' })).toBe('HW-MON-0042-2');
    // The seeded laptop (enrolled by the seed) stays as it was.
    expect(await getDevice(db, 'LAPTOP-ALICE')).toMatchObject({ ownerId: 'alice', state: 'enrolled' });
  });

  it('unenrolls: the token stops working, history stays, a second unenroll changes nothing', async () => {
    const db = await freshDb();
    const { token: enrollment } = await issueEnrollment(db, { ownerId: 'alice', createdBy: 'olga' });
    const { deviceId, token } = await enrollDevice(db, enrollment, laptop);
    const done = await unenrollDevice(db, { deviceId, actor: 'olga', reason: 'stolen' });
    expect(done).toMatchObject({ id: deviceId, state: 'unenrolled', ownerId: 'alice' });
    expect(done?.unenrolledAt).toBeTruthy();
    expect(await findDeviceByToken(db, token)).toBeUndefined();
    expect((await db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, deviceId)).limit(1))[0]).toBeDefined();
    const again = await unenrollDevice(db, { deviceId, actor: 'olga', reason: 'again' });
    expect(again?.unenrolledAt).toBe(done?.unenrolledAt);
    const unenrolled = await db
      .select()
      .from(t.auditLog)
      .where(and(eq(t.auditLog.action, 'device.unenrolled'), eq(t.auditLog.subject, deviceId)));
    expect(unenrolled).toHaveLength(1);
    expect(unenrolled[0]).toMatchObject({ actor: 'olga', details: { reason: 'stolen', ownerId: 'alice' } });
    expect(await unenrollDevice(db, { deviceId: 'NOPE', actor: 'olga', reason: 'x' })).toBeUndefined();
  });

  it('keeps the embedded laptop working: one token file, reissued when it no longer matches', async () => {
    const db = await freshDb();
    const dataDir = mkdtempSync(join(tmpdir(), 'reqflow-devices-'));
    const file = deviceTokenFile(dataDir, 'LAPTOP-ALICE');
    const first = await ensureDeviceToken(db, dataDir, 'LAPTOP-ALICE');
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(await ensureDeviceToken(db, dataDir, 'LAPTOP-ALICE')).toBe(first);
    expect(await getDevice(db, 'LAPTOP-ALICE')).toMatchObject({ state: 'enrolled' });

    writeFileSync(file, 'a token that was never issued\n');
    const second = await ensureDeviceToken(db, dataDir, 'LAPTOP-ALICE');
    expect(second).not.toBe(first);
    expect(await findDeviceByToken(db, first)).toBeUndefined();

    // An operator unenrolled the demo laptop: the next `npm start` enrolls it again, audited.
    await unenrollDevice(db, { deviceId: 'LAPTOP-ALICE', actor: 'olga', reason: 'demo' });
    const third = await ensureDeviceToken(db, dataDir, 'LAPTOP-ALICE');
    expect(await findDeviceByToken(db, third)).toEqual({ id: 'LAPTOP-ALICE' });
    expect(await getDevice(db, 'LAPTOP-ALICE')).toMatchObject({ state: 'enrolled', unenrolledAt: null });
    // The seed enrolled the laptop; its token was never written to a file, so the first call reissues.
    expect((await auditActions(db)).map(([action]) => action)).toEqual([
      'device.token_reissued',
      'device.token_reissued',
      'device.unenrolled',
      'device.enrolled',
    ]);
    await expect(ensureDeviceToken(db, dataDir, 'LAPTOP-NONE')).rejects.toThrow('unknown device');
    expect(existsSync(deviceTokenFile(dataDir, 'LAPTOP-NONE'))).toBe(false);
  });
});

describe('device routes', () => {
  let app: App;
  let db: DB;
  let temporal: Client;
  let config: Config;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    config = loadConfig({
      // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
      MAX_EVENT_LOOP_DELAY_MS: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-devices-api-')),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `devices-test-${randomUUID()}`,
      REQFLOW_DEV_MODE: '1',
      REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
    });
    db = await freshDb();
    const connection = await Connection.connect({ address: config.temporal.address });
    temporal = new Client({ connection, namespace: config.temporal.namespace });
    app = await buildApp({ db, temporal, config, secret: config.secret! });
    for (const user of ['alice', 'bob', 'olga']) tokens[user] = app.issueUserToken(user);
  });

  afterAll(async () => {
    await app?.close();
    await temporal?.connection.close();
  });

  const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  function expectProblem(
    res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown },
    status: number,
  ) {
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json() as { status: number; detail: string };
    expect(body.status).toBe(status);
    return body;
  }

  const issue = (user: string, payload: object) =>
    app.inject({ method: 'POST', url: '/api/devices/enrollments', headers: as(user), payload });
  const enroll = (token: string, payload: object = laptop) =>
    app.inject({ method: 'POST', url: '/api/devices/enroll', headers: bearer(token), payload });

  it('lets only operators issue enrollment tokens, for active users, with a bounded lifetime', async () => {
    const res = await issue('olga', { ownerId: 'alice', expiresIn: 600 });
    expect(res.statusCode).toBe(201);
    const body = res.json<{ id: string; token: string; ownerId: string; expiresAt: string }>();
    expect(body.ownerId).toBe('alice');
    expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);

    expectProblem(await issue('alice', { ownerId: 'alice' }), 403);
    expectProblem(await issue('olga', { ownerId: 'mallory' }), 422);
    expectProblem(await issue('olga', { ownerId: 'alice', expiresIn: 10 }), 400);
    expectProblem(await issue('olga', { ownerId: 'alice', expiresIn: 30 * 24 * 3600 }), 400);
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/devices/enrollments', payload: { ownerId: 'alice' } }),
      401,
    );
  });

  it('enrolls once: of several simultaneous uses of one token exactly one gets a device', async () => {
    const { token } = (await issue('olga', { ownerId: 'bob' })).json<{ token: string }>();
    const answers = await Promise.all(
      ['race-1', 'race-2', 'race-3', 'race-4'].map((hostname) =>
        enroll(token, { hostname, platform: 'darwin' }),
      ),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409, 409, 409]);
    const winner = answers.find((a) => a.statusCode === 201)!.json<{ deviceId: string; ownerId: string }>();
    expect(winner.ownerId).toBe('bob');
    const raced = (await db.select().from(t.devices)).filter((d) => d.id.startsWith('RACE-'));
    expect(raced.map((d) => d.id)).toEqual([winner.deviceId]);
    expect(
      expectProblem(
        answers.find((a) => a.statusCode === 409)!,
        409,
      ).detail,
    ).toContain('already used');
  });

  it('answers 401 for a missing or unknown token, 410 once expired, 403 once the owner left, 400 for a bad body', async () => {
    expectProblem(await app.inject({ method: 'POST', url: '/api/devices/enroll', payload: laptop }), 401);
    expectProblem(await enroll('no-such-enrollment-token'), 401);
    const stale = await issueEnrollment(
      db,
      { ownerId: 'alice', createdBy: 'olga', expiresInSeconds: 60 },
      new Date(Date.now() - 2 * HOUR),
    );
    expect(expectProblem(await enroll(stale.token), 410).detail).toContain('expired');
    const carols = (await issue('olga', { ownerId: 'carol' })).json<{ token: string }>().token;
    // The directory deactivated carol after the token was issued.
    await db.update(t.users).set({ active: false }).where(eq(t.users.id, 'carol'));
    expect(expectProblem(await enroll(carols), 403).detail).toContain('carol');
    expectProblem(
      await enroll((await issue('olga', { ownerId: 'alice' })).json<{ token: string }>().token, {
        hostname: 'bad host',
        platform: 'linux',
      }),
      400,
    );
  });

  it('shows the device in the CMDB with its owner, lists it, and unenrolls it (operators)', async () => {
    const { token: enrollment } = (await issue('olga', { ownerId: 'alice' })).json<{ token: string }>();
    const res = await enroll(enrollment, {
      hostname: 'alice-desktop.corp.example',
      platform: 'linux',
      deviceId: 'desk-1',
    });
    expect(res.statusCode).toBe(201);
    const { deviceId, token } = res.json<{ deviceId: string; token: string }>();
    expect(deviceId).toBe('DESK-1');

    const ci = await app.inject({ url: `/api/cmdb/devices/${deviceId}`, headers: as('alice') });
    expect(ci.json()).toMatchObject({
      id: 'DESK-1',
      class: 'computer',
      owner: 'alice',
      hostname: 'alice-desktop.corp.example',
      state: 'enrolled',
    });
    expectProblem(await app.inject({ url: `/api/cmdb/devices/${deviceId}`, headers: as('bob') }), 404);

    const mine = (await app.inject({ url: '/api/devices', headers: as('alice') })).json<{
      items: { id: string; ownerId: string }[];
    }>();
    expect(mine.items.map((d) => d.id)).toContain('DESK-1');
    expect(mine.items.every((d) => d.ownerId === 'alice')).toBe(true);
    expectProblem(await app.inject({ url: '/api/devices?ownerId=bob', headers: as('alice') }), 403);
    const bobs = (await app.inject({ url: '/api/devices?ownerId=bob', headers: as('olga') })).json<{
      items: { ownerId: string }[];
    }>();
    expect(bobs.items.length).toBeGreaterThan(0);
    expect(bobs.items.every((d) => d.ownerId === 'bob')).toBe(true);

    // The device's own token works for the agent routes; a long poll is under way when it is unenrolled.
    expect((await getDevice(db, deviceId))?.lastSeenAt).toBeNull();
    const polling = app.inject({ url: '/api/agent/jobs?waitSeconds=20', headers: bearer(token) });
    // The poll records the device as seen once it is authenticated and waiting.
    for (const deadline = Date.now() + 10_000; !(await getDevice(db, deviceId))?.lastSeenAt;) {
      if (Date.now() > deadline) throw new Error('the long poll never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const unenroll = (user: string, id = deviceId) =>
      app.inject({
        method: 'POST',
        url: `/api/devices/${id}/unenroll`,
        headers: as(user),
        payload: { reason: 'replaced by a new desktop' },
      });
    expectProblem(await unenroll('alice'), 403);
    expectProblem(await unenroll('olga', 'NO-SUCH-DEVICE'), 404);
    const done = await unenroll('olga');
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ id: 'DESK-1', state: 'unenrolled' });

    expect(expectProblem(await polling, 401).detail).toBe('Device DESK-1 was unenrolled by an operator.');
    expect(
      expectProblem(await app.inject({ url: '/api/agent/jobs', headers: bearer(token) }), 401).detail,
    ).toContain('revoked');
    expect((await unenroll('olga')).json()).toMatchObject({ state: 'unenrolled' });
    expect(
      (
        await db.select().from(t.auditLog).where(eq(t.auditLog.subject, 'DESK-1')).orderBy(t.auditLog.seq)
      ).map((e) => e.action),
    ).toEqual(['device.enrolled', 'device.unenrolled']);
  });

  it('documents every route and status in the OpenAPI document', async () => {
    const doc = (await app.inject('/docs/json')).json<{
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    }>();
    const statuses = (path: string, method: string) =>
      Object.keys(doc.paths[path]?.[method]?.responses ?? {}).sort();
    // 413 (a body too large), 429 (rate limits), 431 (overlong URL or headers) and 503 (load shedding)
    // are documented on every route.
    expect(statuses('/api/devices/enrollments', 'post')).toEqual([
      '201',
      '400',
      '401',
      '403',
      '413',
      '422',
      '429',
      '431',
      '503',
    ]);
    expect(statuses('/api/devices/enroll', 'post')).toEqual([
      '201',
      '400',
      '401',
      '403',
      '409',
      '410',
      '413',
      '429',
      '431',
      '503',
    ]);
    expect(statuses('/api/devices/', 'get')).toEqual(['200', '400', '401', '403', '429', '431', '503']);
    expect(statuses('/api/devices/{id}/unenroll', 'post')).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '413',
      '429',
      '431',
      '503',
    ]);
  });
});
