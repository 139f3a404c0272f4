import { sql } from 'drizzle-orm';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as DbClient from '../db/client.js';
import type * as DeploymentJobs from '../deployments/jobs.js';
import type * as Outbox from '../notifications/outbox.js';
import type * as Transports from '../notifications/transports.js';
import { postgresAvailable, seededPostgres, type SeededPostgres } from './helpers/seeded-postgres.js';

// Several nodes taking work from one PostgreSQL table: two device-job claimers and two outbox
// dispatchers, each on its own connection pool (as two API nodes or two workers would be),
// race for the same rows. Neither may take what the other took, and together they take all.
// The app's modules are imported once the cluster's URL is DATABASE_URL (helpers/seeded-postgres.ts).
const title = postgresAvailable
  ? 'FOR UPDATE SKIP LOCKED on PostgreSQL'
  : 'FOR UPDATE SKIP LOCKED on PostgreSQL (SKIPPED: no initdb/pg_ctl; install postgresql)';

interface App {
  client: typeof DbClient;
  jobs: typeof DeploymentJobs;
  outbox: typeof Outbox;
  transports: typeof Transports;
}

let pg: SeededPostgres | undefined;
let app: App;
let nodeA: DbClient.DB;
let nodeB: DbClient.DB;
const packagesDirs = [join(import.meta.dirname, '..', 'packages')];

describe.skipIf(!postgresAvailable)(title, () => {
  beforeAll(async () => {
    pg = await seededPostgres('skiplocked', 'REQ-SL');
    app = {
      client: pg.client,
      jobs: await import('../deployments/jobs.js'),
      outbox: await import('../notifications/outbox.js'),
      transports: await import('../notifications/transports.js'),
    };
    nodeA = pg.db;
    nodeB = await app.client.openPostgresDatabase(pg.url);
  }, 120_000);

  afterAll(async () => {
    if (nodeA) await app.client.closeDatabase(nodeA);
    if (nodeB) await app.client.closeDatabase(nodeB);
    pg?.server.stop();
  });

  it('two claimers of one device never take the same job, and together take every job', async () => {
    const claimers = [nodeA, nodeB].map((db) => app.jobs.createDeploymentJobs({ db, packagesDirs }));
    const taken = new Map<string, number>();
    let queued = 0;
    // Rounds, so that the two claims meet with jobs waiting many times over.
    for (let round = 0; round < 15; round++) {
      for (let i = 0; i < 8; i++) {
        await claimers[0]!.queue({
          id: `JOB-SL-${round}-${i}`,
          requestId: 'REQ-SL',
          deviceId: 'LAPTOP-ALICE',
          packageId: 'visio',
          action: 'install',
          attempt: round * 8 + i + 1,
          queuedAt: new Date(Date.UTC(2026, 11, 1, 10, round, i)).toISOString(),
          traceParent: null,
        });
        queued++;
      }
      const now = Date.now();
      const claims = await Promise.all(claimers.map((c) => c.claim('LAPTOP-ALICE', now)));
      for (const job of claims.flat()) taken.set(job.id, (taken.get(job.id) ?? 0) + 1);
    }
    const twice = [...taken].filter(([, times]) => times > 1).map(([id]) => id);
    expect(twice).toEqual([]);
    expect(taken.size).toBe(queued);
    const [row] = await app.client.selectRows<{ n: number }>(
      nodeA,
      sql`select count(*)::int as n from deployment_jobs where state = 'running'`,
    );
    expect(row!.n).toBe(queued);
  });

  it('two outbox dispatchers never send the same notification, and together send every one', async () => {
    const lines: string[] = [];
    const transport = app.transports.logTransport((line) => lines.push(line));
    const notifications = app.outbox.createNotifications({ db: nodeA, publicUrl: 'http://portal.test' });
    const recipients = ['alice', 'bob', 'carol', 'erin'];
    const total = 60;
    for (let i = 0; i < total; i++)
      await notifications.notify({
        key: `skip-locked:${i}`,
        recipient: recipients[i % recipients.length]!,
        subject: `message ${i}`,
        body: 'hello',
      });
    const dispatchers = [nodeA, nodeB].map((db) =>
      app.outbox.createOutboxDispatcher({ db, transport, log: () => {}, batchSize: 7 }),
    );
    const deadline = Date.now() + 60_000;
    let sent = 0;
    while (sent < total && Date.now() < deadline) {
      const passes = await Promise.all(dispatchers.map((d) => d.dispatchOnce()));
      sent += passes[0]! + passes[1]!;
    }
    const subjects = lines.map((line) => /"(message \d+)"/.exec(line)?.[1]);
    const counts = new Map<string | undefined, number>();
    for (const s of subjects) counts.set(s, (counts.get(s) ?? 0) + 1);
    expect([...counts].filter(([, times]) => times > 1)).toEqual([]);
    expect(counts.size).toBe(total);
    expect(sent).toBe(total);
  });
});
