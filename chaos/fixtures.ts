/**
 * What a chaos run adds to a freshly seeded database before the stack starts: people who ask
 * (each access or approval request comes from its own person, so a duplicated grant or
 * decision shows), software whose install takes a while and writes a ledger of every install
 * that completed, and a licence pool of one seat for each. The software arrives as an
 * organisation's does: catalog files, applied by the catalog (the stack applies them again at
 * start, so CATALOG_DIR must name them: see chaosCatalogDir).
 */
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { closeDatabase, connectDatabase } from '../db/client.js';
import { seed } from '../db/seed.js';
import { ensureDeviceToken } from '../devices/index.js';
import { createDirectory } from '../directory/index.js';
import { repoRoot } from '../runtime/config.js';

/** The device whose agent runs under the stack; chaos software is installed there. */
export const CHAOS_DEVICE = 'LAPTOP-ALICE';
/** Under the device's install root: one line per install begun, one per install completed. */
export const INSTALL_LEDGER = 'chaos-installs.log';

export const chaosUser = (n: number) => `chaos-${String(n).padStart(4, '0')}`;
export const chaosTool = (n: number) => `chaos-tool-${String(n).padStart(3, '0')}`;

/** The catalog a chaos run's stack applies (its CATALOG_DIR): the demo catalog plus chaos.yaml. */
export const chaosCatalogDir = (dataDir: string) => join(dataDir, 'catalog');
/** The file of the chaos software, in the chaos catalog. */
export const CHAOS_CATALOG_FILE = 'chaos.yaml';

export interface FixtureOptions {
  dataDir: string;
  databaseFile: string;
  /** PostgreSQL instead of the SQLite file (the process must have loaded the pg schema: DATABASE_URL). */
  databaseUrl?: string | undefined;
  /** Where the generated packages go (added to PACKAGES_DIR). */
  packagesDir: string;
  users: number;
  tools: number;
  /** How long each install script sleeps between "begin" and "installed". */
  installSeconds: number;
}

function writePackage(dir: string, id: string, installSeconds: number): void {
  const pkg = join(dir, id);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'manifest.json'),
    JSON.stringify({ id, name: id, version: '1.0.0', timeoutSeconds: 60 }),
  );
  const scripts = {
    detect: '#!/bin/sh\n[ -f "tools/$PACKAGE_ID/VERSION" ]\n',
    // The ledger is a file, not stdout: an install whose agent was killed keeps writing it.
    // The last echo goes to the agent's pipe, as installers' chatter does.
    install: [
      '#!/bin/sh',
      'set -eu',
      `echo "begin $PACKAGE_ID $REQFLOW_JOB_ID" >> ${INSTALL_LEDGER}`,
      `sleep ${installSeconds}`,
      'mkdir -p "tools/$PACKAGE_ID"',
      'echo "$PACKAGE_VERSION" > "tools/$PACKAGE_ID/VERSION"',
      `echo "installed $PACKAGE_ID $REQFLOW_JOB_ID" >> ${INSTALL_LEDGER}`,
      'echo "installed $PACKAGE_ID"',
      '',
    ].join('\n'),
    uninstall: '#!/bin/sh\nrm -rf "tools/$PACKAGE_ID"\n',
  };
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(pkg, `${name}.sh`), body);
    chmodSync(join(pkg, `${name}.sh`), 0o755);
  }
}

/**
 * The demo catalog and its packages copied under `dataDir` (the demo names its package folders
 * relative to itself), and chaos.yaml: per tool a package, a pool of one seat and a standard
 * change. Each tool is a product of its own: a device holds one seat per product, so tools
 * sharing a pool would refuse each other on the same laptop.
 */
function writeChaosCatalog(o: FixtureOptions): string {
  const catalogDir = chaosCatalogDir(o.dataDir);
  cpSync(join(repoRoot, 'catalog'), catalogDir, { recursive: true });
  cpSync(join(repoRoot, 'packages'), join(catalogDir, '..', 'packages'), { recursive: true });
  const docs = Array.from({ length: o.tools }, (_, i) => chaosTool(i + 1)).flatMap((id) => [
    { kind: 'Package', id, name: id, folder: relative(catalogDir, join(o.packagesDir, id)) },
    { kind: 'LicensePool', id, product: id, seats: 1 },
    {
      kind: 'CatalogItem',
      id,
      name: id,
      type: 'standard_service',
      category: 'Software',
      description: `${id} (chaos fixture)`,
      changeModel: 'standard',
      package: id,
      licensePool: id,
      formFields: [{ name: 'deviceId', label: 'Device', type: 'device', required: true }],
      fulfillmentGroup: 'service-desk',
    },
  ]);
  writeFileSync(join(catalogDir, CHAOS_CATALOG_FILE), docs.map((d) => stringify(d)).join('---\n'));
  return catalogDir;
}

/** Seeds the database with the chaos catalog and adds the chaos people and packages. */
export async function prepareFixtures(o: FixtureOptions): Promise<void> {
  for (let n = 1; n <= o.tools; n++) writePackage(o.packagesDir, chaosTool(n), o.installSeconds);
  const db = await connectDatabase({ databaseFile: o.databaseFile, databaseUrl: o.databaseUrl });
  try {
    await seed(db, writeChaosCatalog(o), 'chaos');
    await ensureDeviceToken(db, o.dataDir, CHAOS_DEVICE);
    // Through the directory, as SCIM provisions people.
    const directory = createDirectory({ db });
    for (let n = 1; n <= o.users; n++) {
      const id = chaosUser(n);
      await directory.ensureUser(
        {
          userName: id,
          displayName: `Chaos ${n}`,
          email: `${id}@example.com`,
          roleHints: ['engineer'],
          managerId: 'bob',
        },
        'chaos',
      );
    }
  } finally {
    await closeDatabase(db);
  }
}
