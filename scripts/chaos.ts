/**
 * `npm run chaos`: kill -9 of every kind of process while requests are in flight, on the
 * embedded stack (`npm start`, supervised) and on a pool of separately started workers; then
 * count that nothing was lost and nothing doubled. Loopback only, free ports, a temporary
 * directory; every scenario has a deadline. Exit code 1 on any loss, duplicate or broken chain.
 *
 *   CHAOS_REQUESTS   size of the worker scenarios (default 200; the API scenario takes a quarter,
 *                    the Temporal one half, the agent scenario one install per 40, at least 3)
 *   CHAOS_KILLS      kills per scenario (default 4; the API 3, Temporal 2 and the agent 3 at most)
 *   CHAOS_WORKERS    size of the worker pool (default 3)
 *   CHAOS_SEED       makes the random moments repeatable (printed at the start)
 *   CHAOS_DEADLINE_S deadline of each scenario (default 300)
 *   CHAOS_ONLY       comma-separated subset: worker, agent, api, temporal, pool
 *   CHAOS_KEEP=1     keep the run's directory (logs, databases) even when it passes
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clean } from '../chaos/checks.js';
import { baseEnv, startEmbedded, startPool, type Env } from '../chaos/env.js';
import { prepareFixtures } from '../chaos/fixtures.js';
import {
  agentKills,
  apiKills,
  temporalKills,
  workerKills,
  type Result,
  type Settings,
} from '../chaos/scenarios.js';
import { Allocator } from '../chaos/workload.js';
import { closeDatabase, openDatabase } from '../db/client.js';
import { resolveTemporalCli } from './temporal-cli.js';

const log = (line: string) => console.log(line);

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** mulberry32: small, seedable, good enough to pick moments and victims. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function report(r: Result): boolean {
  const f = r.findings;
  const expectedFinals = Object.entries(f.finals)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
  const d = f.duplicates;
  const ok = clean(f) && r.notes.length === 0;
  const secs = (x: number) => `${x.toFixed(1)} s`;
  log(
    [
      `   faults: ${r.faults}; recovery (${r.recoveredWhen}): ${r.recoveries.map(secs).join(', ') || '—'}`,
      `   submitted ${r.planned} with Idempotency-Key; client retries: ${r.retries.connection} on connection errors, ${r.retries.status5xx} on 5xx; people acted ${r.actions} times`,
      `   final: ${expectedFinals}; lost ${f.lost.length}, ended otherwise than without faults ${f.wrong.length}`,
      `   duplicates: requests per key ${d.requestsPerKey}, notifications ${d.notifications}, seats ${d.seats}, CMDB CIs ${d.cmdbCis}, memberships ${d.memberships}, audit entries ${d.auditEntries}, installs ${d.installs}, deployment jobs ${d.jobs}`,
      `   side effects: ${f.counts.notifications} notifications (${f.counts.undelivered} still to be delivered), ${f.counts.seats} seats, ${f.counts.cmdbCis} CMDB CIs, ${f.counts.memberships} memberships, ${f.counts.auditEntries} audit entries, ${f.counts.installs} installs`,
      `   audit chain: ${f.auditChain.ok ? `verifies (${f.auditChain.entries} entries)` : `BROKEN, ${f.auditChain.detail}`}`,
      `   all final ${r.drainSeconds === undefined ? 'never' : `${secs(r.drainSeconds)} after the last fault`}; scenario took ${secs(r.seconds)}`,
      ...[...r.notes, ...f.lost.slice(0, 10), ...f.wrong.slice(0, 10)].map((n) => `   ! ${n}`),
      `   ${ok ? 'PASS' : 'FAIL'}`,
    ].join('\n'),
  );
  return ok;
}

async function run(): Promise<number> {
  const requests = int('CHAOS_REQUESTS', 200);
  const seed = int('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31) + 1);
  const only = new Set(
    (process.env.CHAOS_ONLY ?? 'worker,agent,api,temporal,pool').split(',').map((x) => x.trim()),
  );
  const settings: Settings = {
    requests,
    kills: int('CHAOS_KILLS', 4),
    deadlineMs: int('CHAOS_DEADLINE_S', 300) * 1000,
    rng: random(seed),
    log,
  };
  const root = mkdtempSync(join(tmpdir(), 'reqflow-chaos-'));
  log(`chaos: CHAOS_REQUESTS=${requests} CHAOS_SEED=${seed}; logs and databases in ${root}`);
  const cliPath = await resolveTemporalCli({ log: (line) => log(`[temporal-cli] ${line}`) });
  // Every request of the run gets people and packages of its own: size the fixtures for all.
  const users = requests * 3;
  const tools = Math.ceil(requests / 4) + 3;
  const results: boolean[] = [];

  const withEnv = async (
    dir: string,
    start: (env: NodeJS.ProcessEnv) => Promise<Env>,
    scenarios: ((env: Env, db: ReturnType<typeof openDatabase>, alloc: Allocator) => Promise<Result>)[],
  ) => {
    if (scenarios.length === 0) return;
    const dataDir = join(root, dir);
    const packagesDir = join(dataDir, 'packages');
    mkdirSync(packagesDir, { recursive: true });
    await prepareFixtures({
      dataDir,
      databaseFile: join(dataDir, 'reqflow.db'),
      packagesDir,
      users,
      tools,
      installSeconds: 1,
    });
    const env = await start(await baseEnv(dataDir, packagesDir));
    const db = openDatabase(env.databaseFile, { migrate: false });
    const alloc = new Allocator();
    try {
      for (const scenario of scenarios) {
        const result = await scenario(env, db, alloc);
        const ok = report(result);
        if (!ok) log(`   last output of the processes:\n${env.tail(40)}`);
        results.push(ok);
      }
    } finally {
      await closeDatabase(db);
      const code = await env.stop();
      log(`\n${env.name} stopped (exit code ${code})`);
      if (code !== 0) results.push(false);
    }
  };

  const embedded = [
    only.has('worker') &&
      ((env: Env, db: ReturnType<typeof openDatabase>, alloc: Allocator) =>
        workerKills(env, db, settings, alloc, 'worker')),
    only.has('agent') &&
      ((env: Env, db: ReturnType<typeof openDatabase>, alloc: Allocator) =>
        agentKills(env, db, settings, alloc)),
    only.has('api') &&
      ((env: Env, db: ReturnType<typeof openDatabase>, alloc: Allocator) =>
        apiKills(env, db, settings, alloc)),
    only.has('temporal') &&
      ((env: Env, db: ReturnType<typeof openDatabase>, alloc: Allocator) =>
        temporalKills(env, db, settings, alloc)),
  ].filter((s) => s !== false);
  await withEnv('embedded', (env) => startEmbedded(join(root, 'embedded'), env), embedded);
  if (only.has('pool')) {
    const workers = int('CHAOS_WORKERS', 3);
    await withEnv('pool', (env) => startPool(join(root, 'pool'), env, { cliPath, workers }), [
      (env, db, alloc) => workerKills(env, db, settings, alloc, 'pool'),
    ]);
  }

  const passed = results.filter(Boolean).length;
  const allOk = results.length > 0 && passed === results.length;
  log(
    `\nchaos: ${passed} of ${results.length} checks passed (seed ${seed})${allOk ? '' : `; logs in ${root}`}`,
  );
  if (allOk && process.env.CHAOS_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  return allOk ? 0 : 1;
}

run()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
