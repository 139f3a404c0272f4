/**
 * The organisation a benchmark run orders for, provisioned the way a real one arrives: people
 * through the directory (as SCIM creates them), each with a laptop enrolled through a
 * single-use enrollment token (as `npm run agent -- enroll` does), and the demo catalog applied
 * from its files with Visio's licence pool sized for every person of the run.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { closeDatabase, openDatabase } from '../db/client.js';
import { seed } from '../db/seed.js';
import { enrollDevice, issueEnrollment } from '../devices/index.js';
import { createDirectory } from '../directory/index.js';
import { repoRoot } from '../runtime/config.js';

export interface BenchPerson {
  userId: string;
  deviceId: string;
  /** The device's own token, for the in-process agent that serves this laptop. */
  deviceToken: string;
}

const ACTOR = 'bench';
/** Every bench person reports to bob, so bob approves their access requests (B3, B4). */
export const BENCH_MANAGER = 'bob';

export const benchUser = (n: number) => `bench-${String(n).padStart(5, '0')}`;

/**
 * Copies the demo catalog and packages under `root` (the catalog names its package folders
 * relative to itself) and gives Visio `seats` seats: the demo pool of three would refuse all
 * but three requesters.
 */
export function writeBenchCatalog(root: string, seats: number): string {
  const catalogDir = join(root, 'catalog');
  cpSync(join(repoRoot, 'catalog'), catalogDir, { recursive: true });
  cpSync(join(repoRoot, 'packages'), join(root, 'packages'), { recursive: true });
  const file = join(catalogDir, 'software.yaml');
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const pool = docs.find((d) => d.get('kind') === 'LicensePool' && d.get('id') === 'visio');
  if (!pool) throw new Error('the demo catalog has no LicensePool visio');
  pool.set('seats', seats);
  writeFileSync(file, docs.map((d) => d.toString()).join(''));
  return catalogDir;
}

/**
 * Seeds `databaseFile` (the demo organisation and the catalog in `catalogDir`), then adds
 * `count` engineers with a laptop each. The stack started afterwards finds them all.
 */
export async function provisionPeople(
  databaseFile: string,
  catalogDir: string,
  count: number,
): Promise<BenchPerson[]> {
  const db = openDatabase(databaseFile);
  try {
    await seed(db, catalogDir, ACTOR);
    const directory = createDirectory({ db });
    const people: BenchPerson[] = [];
    for (let n = 1; n <= count; n++) {
      const userId = benchUser(n);
      await directory.ensureUser(
        {
          userName: userId,
          displayName: `Bench ${n}`,
          email: `${userId}@example.com`,
          roleHints: ['engineer'],
          managerId: BENCH_MANAGER,
        },
        ACTOR,
      );
      const enrollment = await issueEnrollment(db, { ownerId: userId, createdBy: ACTOR });
      const device = await enrollDevice(db, enrollment.token, {
        hostname: `laptop-${userId}`,
        platform: 'linux',
      });
      people.push({ userId, deviceId: device.deviceId, deviceToken: device.token });
    }
    return people;
  } finally {
    await closeDatabase(db);
  }
}
