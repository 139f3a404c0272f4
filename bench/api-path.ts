/**
 * `npm run bench:api`: only the two benchmarks that measure the HTTP API itself, B2 (submit
 * until its early return) and B6 (`GET /api/requests/:id` under autocannon), each against its
 * baseline in the same run, with the same modules, stack and settings as `npm run bench`. A
 * few minutes instead of fifteen, for work on the API's per-request cost.
 *
 *   BENCH_SUBMITS       B2 submits timed (default 15, as the full run)
 *   BENCH_READ_SECONDS  B6 seconds per autocannon target (default 10, as the full run)
 *   BENCH_KEEP=1        keep the run's folder (logs, databases)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { submitOverhead } from './b2-submit.js';
import { readPath } from './b6-read-path.js';
import { startBenchStack, type BenchStack } from './context.js';
import { provisionPeople, writeBenchCatalog } from './fixture.js';
import { historyCost } from './history.js';
import { orderVisio } from './requests.js';
import { scaleFromEnv } from './scale.js';

const log = (line: string) => console.log(line);

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

async function run(): Promise<void> {
  const base = scaleFromEnv({ BENCH_SCALE: 'full' });
  const scale = {
    ...base,
    submits: positive('BENCH_SUBMITS', base.submits),
    readSeconds: positive('BENCH_READ_SECONDS', base.readSeconds),
  };
  const root = mkdtempSync(join(tmpdir(), 'reqflow-bench-api-'));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  log(
    `bench:api: stack, logs and databases in ${root}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  // The warm-up pair, then one per timed submit.
  const count = scale.submits + 2;
  const catalogDir = writeBenchCatalog(root, count + 10);
  const people = await provisionPeople(join(dataDir, 'reqflow.db'), catalogDir, count);

  let bench: BenchStack | undefined;
  let ok = false;
  try {
    bench = await startBenchStack({
      name: 'bench:api',
      root,
      dataDir,
      catalogDir,
      people,
      scale,
      runUntil: Date.now() + scale.runSeconds * 1000,
      log,
    });
    const { ctx, agents } = bench;
    await orderVisio(ctx, ctx.nextPerson());
    const warm = await orderVisio(ctx, ctx.nextPerson());
    const shape = await historyCost(ctx.temporal, warm.id);
    const b2 = await submitOverhead(ctx, shape);
    await agents.stop();
    const b6 = await readPath(ctx, { id: warm.id, requester: people[1]!.userId }, root);
    log(
      `\n| benchmark | reqflow | baseline | ratio |\n| --- | --- | --- | --- |\n` +
        `| B2 POST /api/requests (${scale.submits}) | p50 ${b2.reqflow.p50} ms, p99 ${b2.reqflow.p99} ms | p50 ${b2.bare.p50} ms, p99 ${b2.bare.p99} ms | ${b2.ratio.toFixed(2)}× |\n` +
        `| B6 GET /api/requests/:id (${scale.readSeconds} s) | ${b6.reqflow.perSecond.toFixed(0)}/s; p50 ${b6.reqflow.p50} ms, p99 ${b6.reqflow.p99} ms | ${b6.bare.perSecond.toFixed(0)}/s; p50 ${b6.bare.p50} ms, p99 ${b6.bare.p99} ms | ${b6.ratio.toFixed(3)} |`,
    );
    ok = true;
  } finally {
    await bench?.stop(ok);
    if (ok && process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
    else log(`bench:api: the run's folder is kept: ${root}`);
  }
}

run().catch((err: unknown) => {
  console.error(`bench:api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
