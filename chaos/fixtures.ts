/**
 * What a chaos run adds to a freshly seeded database before the stack starts: people who ask
 * (each access or approval request comes from its own person, so a duplicated grant or
 * decision shows), software whose install takes a while and writes a ledger of every install
 * that completed, and a licence pool of one seat for each.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeDatabase, openDatabase } from '../db/client.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import { seed } from '../db/seed.js';
import { ensureDeviceToken } from '../devices/index.js';
import { createDirectory } from '../directory/index.js';

/** The device whose agent runs under the stack; chaos software is installed there. */
export const CHAOS_DEVICE = 'LAPTOP-ALICE';
/** Under the device's install root: one line per install begun, one per install completed. */
export const INSTALL_LEDGER = 'chaos-installs.log';

export const chaosUser = (n: number) => `chaos-${String(n).padStart(4, '0')}`;
export const chaosTool = (n: number) => `chaos-tool-${String(n).padStart(3, '0')}`;

export interface FixtureOptions {
  dataDir: string;
  databaseFile: string;
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

/** Seeds the database and adds the chaos people, packages, catalog items and seats. */
export async function prepareFixtures(o: FixtureOptions): Promise<void> {
  for (let n = 1; n <= o.tools; n++) writePackage(o.packagesDir, chaosTool(n), o.installSeconds);
  const db = openDatabase(o.databaseFile);
  try {
    await seed(db);
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
    await transaction(db, async (tx) => {
      for (let n = 1; n <= o.tools; n++) {
        const id = chaosTool(n);
        // Each tool is a product of its own: a device holds one seat per product, so tools
        // sharing a pool would refuse each other on the same laptop.
        await tx.insert(t.licensePools).values({ id, product: id, totalSeats: 1 }).onConflictDoNothing();
        await tx
          .insert(t.catalogItems)
          .values({
            id,
            name: id,
            type: 'standard_service',
            description: `${id} (chaos fixture)`,
            changeModel: 'standard',
            packageId: id,
            licensePoolId: id,
            allowedRoles: null,
            fulfillmentGroupId: 'service-desk',
            formFields: [{ name: 'deviceId', label: 'Device', type: 'device', required: true }],
          })
          .onConflictDoNothing();
      }
    });
  } finally {
    await closeDatabase(db);
  }
}
