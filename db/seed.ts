import { join } from 'node:path';
import { enrollDevice, getDevice, issueEnrollment } from '../devices/index.js';
import { createDirectory } from '../directory/index.js';
import { repoRoot } from '../runtime/config.js';
import { createCatalog, formatError, type CatalogResult } from '../service-catalog/index.js';
import type { DB } from './client.js';

// The demo organisation: people and devices. Inserts skip rows that already exist, so a
// second `npm start` keeps whatever the running system changed (memberships, devices...).
// People, roles and groups arrive through the directory, the path SCIM provisioning
// takes, so they are audited (actor `seed`) like any other directory change. Its catalog
// (items, packages, pools, services, articles) is the checked-in `catalog/` folder.

/** The demo organisation's catalog files. */
export const DEMO_CATALOG_DIR = join(repoRoot, 'catalog');

const roles = [
  { id: 'engineer', name: 'Engineer' },
  { id: 'designer', name: 'Designer' },
  { id: 'engineering-manager', name: 'Engineering manager' },
  { id: 'finance-analyst', name: 'Finance analyst' },
  { id: 'service-desk', name: 'Service desk analyst' },
  { id: 'director', name: 'Director' },
  { id: 'operator', name: 'Operator' },
];

/** Managers come before the people who report to them: the directory checks a manager exists. */
const people = [
  { id: 'erin', name: 'Erin Evans', roleId: 'director', managerId: null },
  { id: 'bob', name: 'Bob Baker', roleId: 'engineering-manager', managerId: 'erin' },
  { id: 'carol', name: 'Carol Chen', roleId: 'finance-analyst', managerId: 'erin' },
  { id: 'dave', name: 'Dave Diaz', roleId: 'service-desk', managerId: 'erin' },
  { id: 'olga', name: 'Olga Olsen', roleId: 'operator', managerId: 'erin' },
  { id: 'alice', name: 'Alice Archer', roleId: 'engineer', managerId: 'bob' },
];

const groups = [
  { id: 'service-desk', name: 'Service Desk', kind: 'fulfillment' as const, members: ['dave'] },
  { id: 'procurement', name: 'Procurement', kind: 'fulfillment' as const, members: ['dave'] },
  { id: 'cab', name: 'Change Advisory Board', kind: 'cab' as const, members: ['erin'] },
  { id: 'operators', name: 'Operators', kind: 'operators' as const, members: ['olga'] },
  // Read-only access to the audit trail; empty in the seed, filled by the organisation.
  { id: 'auditors', name: 'Auditors', kind: 'auditors' as const, members: [] },
];

// Enrolled the way an organisation's devices are: an enrollment token for the owner, spent
// by the device. Their tokens are thrown away; the embedded stack gives LAPTOP-ALICE's agent
// a fresh one (ensureDeviceToken), and the other laptops have no agent.
const devices = [
  { deviceId: 'LAPTOP-ALICE', hostname: 'laptop-alice', ownerId: 'alice', platform: 'linux' },
  { deviceId: 'LAPTOP-BOB', hostname: 'laptop-bob', ownerId: 'bob', platform: 'linux' },
  { deviceId: 'LAPTOP-CAROL', hostname: 'laptop-carol', ownerId: 'carol', platform: 'linux' },
];

const SEED_ACTOR = 'seed';

/** The demo organisation's people, groups and devices; safe to run at every start. */
export async function seedOrganisation(db: DB): Promise<void> {
  const directory = createDirectory({ db });
  for (const role of roles) await directory.ensureRole(role, SEED_ACTOR);
  // The userName is the id, as for people who existed before the directory had userNames.
  for (const p of people) {
    await directory.ensureUser(
      {
        userName: p.id,
        displayName: p.name,
        email: `${p.id}@example.com`,
        roleHints: [p.roleId],
        managerId: p.managerId,
      },
      SEED_ACTOR,
    );
  }
  for (const g of groups) await directory.ensureGroup(g, SEED_ACTOR);
  for (const { ownerId, ...device } of devices) {
    if (await getDevice(db, device.deviceId)) continue;
    const { token } = await issueEnrollment(db, { ownerId, createdBy: SEED_ACTOR });
    await enrollDevice(db, token, device);
  }
}

/**
 * The demo organisation, then the catalog of `catalogDir` applied (the demo's by default).
 * Throws, naming every file error, when the catalog does not check: nothing of it is applied then.
 */
export async function seed(
  db: DB,
  catalogDir: string = DEMO_CATALOG_DIR,
  actor: string = SEED_ACTOR,
): Promise<CatalogResult> {
  await seedOrganisation(db);
  const result = await createCatalog({ db, dir: catalogDir }).apply(actor);
  if (result.errors.length > 0) {
    throw new Error(
      `The catalog in ${catalogDir} has errors; nothing of it was applied:\n${result.errors.map(formatError).join('\n')}`,
    );
  }
  return result;
}
