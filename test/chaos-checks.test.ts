import { eq } from 'drizzle-orm';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit } from '../audit/log.js';
import { check, clean } from '../chaos/checks.js';
import {
  CHAOS_CATALOG_FILE,
  CHAOS_DEVICE,
  chaosCatalogDir,
  chaosTool,
  chaosUser,
  INSTALL_LEDGER,
  prepareFixtures,
} from '../chaos/fixtures.js';
import type { Planned } from '../chaos/workload.js';
import { closeDatabase, openDatabase, openPostgresDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { createCatalog } from '../service-catalog/index.js';
import { newPostgresDatabase, onPostgres } from './helpers/test-database.js';

// The chaos suite's checks must be able to fail: each kind of loss and duplicate, planted in a
// real database and install ledger, is found and counted, and a clean run is clean.

let dir: string;
let db: DB;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reqflow-chaos-checks-'));
  const packagesDir = join(dir, 'packages');
  mkdirSync(packagesDir);
  // On PostgreSQL the fixtures go into a database of the test's own, as the file does on SQLite.
  const databaseUrl = onPostgres ? await newPostgresDatabase() : undefined;
  await prepareFixtures({
    dataDir: dir,
    databaseFile: join(dir, 'reqflow.db'),
    databaseUrl,
    packagesDir,
    users: 3,
    tools: 1,
    installSeconds: 0,
  });
  db = databaseUrl
    ? await openPostgresDatabase(databaseUrl, { migrate: false })
    : openDatabase(join(dir, 'reqflow.db'));
});

afterEach(async () => {
  await closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

async function row(id: string, requester: string, catalogItemId: string, status: string, key: string) {
  await db.insert(t.requests).values({
    id,
    type: catalogItemId === 'vpn-access' ? 'access' : 'standard_service',
    catalogItemId,
    requesterId: requester,
    beneficiaryId: requester,
    status: status as 'fulfilled',
    idempotencyKey: key,
    fingerprint: key,
  });
}

/** A fulfilled VPN grant and a fulfilled install, with every side effect once. */
async function cleanRun(): Promise<Planned[]> {
  const tool = chaosTool(1);
  const planned: Planned[] = [
    { key: 'k-1', kind: 'vpn-access', requester: chaosUser(1), body: {}, expected: 'fulfilled', id: 'REQ-A' },
    { key: 'k-2', kind: 'software', requester: 'alice', body: {}, expected: 'fulfilled', id: 'REQ-S', tool },
  ];
  await row('REQ-A', chaosUser(1), 'vpn-access', 'fulfilled', 'k-1');
  await row('REQ-S', 'alice', tool, 'fulfilled', 'k-2');
  await db
    .insert(t.securityGroupMembers)
    .values({ groupId: 'VPN-USERS', userId: chaosUser(1), requestId: 'REQ-A' });
  await appendAudit(db, new Date().toISOString(), {
    key: 'a',
    actor: 'reqflow',
    action: 'access.granted',
    requestId: 'REQ-A',
  });
  await appendAudit(db, new Date().toISOString(), {
    key: 's',
    actor: 'reqflow',
    action: 'software.installed',
    requestId: 'REQ-S',
  });
  await db
    .insert(t.licenseAssignments)
    .values({ poolId: tool, requestId: 'REQ-S', userId: 'alice', state: 'assigned' });
  const ci = `SW-${CHAOS_DEVICE}-${tool}`;
  await db.insert(t.cmdbCis).values({ id: ci, ciClass: 'software_install', name: tool, attributes: {} });
  await db
    .insert(t.cmdbRelationships)
    .values({ sourceCiId: ci, targetCiId: CHAOS_DEVICE, type: 'installed_on', requestId: 'REQ-S' });
  await db.insert(t.deploymentJobs).values({
    id: 'JOB-1',
    requestId: 'REQ-S',
    deviceId: CHAOS_DEVICE,
    packageId: tool,
    action: 'install',
    attempt: 1,
    state: 'succeeded',
  });
  await db.insert(t.notifications).values({
    key: 'n-1',
    requestId: 'REQ-S',
    recipientId: 'alice',
    subject: 'installed',
    body: '.',
    status: 'sent',
  });
  const root = join(dir, 'devices', CHAOS_DEVICE, 'root');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, INSTALL_LEDGER), `begin ${tool} JOB-1\ninstalled ${tool} JOB-1\n`);
  return planned;
}

describe('chaos checks', () => {
  it('finds a clean run clean', async () => {
    const planned = await cleanRun();
    const findings = await check(db, dir, planned);
    expect(findings).toMatchObject({
      finals: { fulfilled: 2 },
      lost: [],
      wrong: [],
      auditChain: { ok: true },
    });
    expect(Object.values(findings.duplicates)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(clean(findings)).toBe(true);
  });

  it('counts each duplicated side effect', async () => {
    const planned = await cleanRun();
    const tool = chaosTool(1);
    await db
      .insert(t.notifications)
      .values({ key: 'n-2', requestId: 'REQ-S', recipientId: 'alice', subject: 'installed', body: '.' });
    await db.insert(t.deploymentJobs).values({
      id: 'JOB-2',
      requestId: 'REQ-S',
      deviceId: CHAOS_DEVICE,
      packageId: tool,
      action: 'install',
      attempt: 2,
      state: 'succeeded',
    });
    await appendAudit(db, new Date().toISOString(), {
      key: 'a-again',
      actor: 'reqflow',
      action: 'access.granted',
      requestId: 'REQ-A',
    });
    writeFileSync(
      join(dir, 'devices', CHAOS_DEVICE, 'root', INSTALL_LEDGER),
      `begin ${tool} JOB-1\ninstalled ${tool} JOB-1\nbegin ${tool} JOB-2\ninstalled ${tool} JOB-2\n`,
    );
    const findings = await check(db, dir, planned);
    expect(findings.duplicates).toMatchObject({ notifications: 1, jobs: 1, auditEntries: 1, installs: 1 });
    expect(clean(findings)).toBe(false);
  });

  it('counts requests that never ended, ended otherwise, or lack their side effects', async () => {
    const planned: Planned[] = [
      ...(await cleanRun()),
      {
        key: 'k-3',
        kind: 'vpn-access',
        requester: chaosUser(2),
        body: {},
        expected: 'fulfilled',
        id: 'REQ-B',
      },
      {
        key: 'k-4',
        kind: 'finance-approved',
        requester: chaosUser(3),
        body: {},
        expected: 'fulfilled',
        id: 'REQ-C',
      },
      { key: 'k-5', kind: 'question', requester: chaosUser(3), body: {}, expected: 'fulfilled' },
    ];
    // REQ-B was granted by its workflow's account, but no membership row exists.
    await row('REQ-B', chaosUser(2), 'vpn-access', 'fulfilled', 'k-3');
    await row('REQ-C', chaosUser(3), 'vpn-access', 'awaiting_approval', 'k-4');
    await db.update(t.requests).set({ status: 'denied' }).where(eq(t.requests.id, 'REQ-A'));
    const findings = await check(db, dir, planned);
    expect(findings.wrong).toEqual(['k-1 REQ-A: denied, expected fulfilled']);
    expect(findings.lost).toEqual(
      expect.arrayContaining([
        'k-4 REQ-C: awaiting_approval, expected fulfilled',
        'k-5: no request',
        '1 memberships missing (0 of 1)',
        'k-3: no access.granted audit entry',
      ]),
    );
    expect(clean(findings)).toBe(false);
  });
});

describe('chaos fixtures', () => {
  it('bring the chaos software as catalog files the catalog applied, which the stack applies again unchanged', async () => {
    const tool = chaosTool(1);
    const [item] = await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, tool)).limit(1);
    expect(item).toMatchObject({ active: true, version: 1, source: CHAOS_CATALOG_FILE, licensePoolId: tool });
    const [pool] = await db.select().from(t.licensePools).where(eq(t.licensePools.id, tool)).limit(1);
    expect(pool?.totalSeats).toBe(1);
    const catalog = createCatalog({ db, dir: chaosCatalogDir(dir) });
    expect(await catalog.packageFolder(tool)).toBe(join(dir, 'packages', tool));
    expect(await catalog.packageFolder('visio')).toBe(join(dir, 'packages', 'visio'));
    // What the stack's start-up apply of CATALOG_DIR would do: nothing, so no chaos item is retired.
    expect(await catalog.diff()).toEqual({ errors: [], changes: [] });
  });
});
