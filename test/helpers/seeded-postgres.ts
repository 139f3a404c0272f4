import type * as DbClient from '../../db/client.js';
import { findPostgresBin, startPostgres, type PostgresServer } from '../../scripts/postgres.js';

/** Whether this machine can start a throwaway cluster (CI installs PostgreSQL). */
export const postgresAvailable = findPostgresBin() !== undefined;

export interface SeededPostgres {
  server: PostgresServer;
  url: string;
  /** db/client.ts, loaded with the pg-core tables bound. */
  client: typeof DbClient;
  /** A pool on the database, seeded with the demo organisation and catalog. */
  db: DbClient.DB;
}

/**
 * A throwaway cluster with one seeded database, made this process's DATABASE_URL before
 * any app module loads: db/schema.ts binds its tables when it loads, from DATABASE_URL, so a
 * test that uses it imports app modules dynamically, after this resolves. `requestId` is
 * recorded as Alice's Visio request on LAPTOP-ALICE, for jobs to belong to.
 */
export async function seededPostgres(name: string, requestId: string): Promise<SeededPostgres> {
  const server = await startPostgres();
  const url = await server.createDatabase(name);
  process.env.DATABASE_URL = url;
  const client = await import('../../db/client.js');
  const { seed } = await import('../../db/seed.js');
  const { recordSubmittedRequest } = await import('../../requests/index.js');
  const db = await client.openPostgresDatabase(url);
  await seed(db);
  await recordSubmittedRequest(db, {
    id: requestId,
    type: 'standard_service',
    catalogItemId: 'visio',
    requesterId: 'alice',
    beneficiaryId: 'alice',
    deviceId: 'LAPTOP-ALICE',
    fingerprint: `fp-${requestId}`,
  });
  return { server, url, client, db };
}
