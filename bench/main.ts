/**
 * `npm run bench` (BENCH_SCALE=full) and `npm run bench:smoke`: the embedded stack on its own
 * ports and data directory under a temporary folder, a provisioned organisation with an agent
 * per laptop, and B1–B6, each against a baseline measured in the same run on the same Temporal
 * server. Prints a Markdown table and writes bench/results/<timestamp>.json. Exits non-zero
 * only when the harness itself breaks: a missed target is a finding, not a failure.
 *
 *   BENCH_SCALE   full (default) or smoke
 *   BENCH_KEEP=1  keep the run's folder (logs, databases)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../runtime/config.js';
import { runBareWorkflows, throughput } from './b1-throughput.js';
import { submitOverhead } from './b2-submit.js';
import { approvalLatency } from './b3-approval.js';
import { openWork } from './b4-open-work.js';
import { historyCosts } from './b5-history.js';
import { readPath } from './b6-read-path.js';
import { startBenchStack, type BenchStack } from './context.js';
import { provisionPeople, writeBenchCatalog } from './fixture.js';
import { historyCost } from './history.js';
import { markdown, targetsOf, type BenchResults } from './report.js';
import { orderVisio } from './requests.js';
import { peopleNeeded, scaleFromEnv } from './scale.js';

const log = (line: string) => console.log(line);

async function run(): Promise<void> {
  const scale = scaleFromEnv();
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const root = mkdtempSync(join(tmpdir(), 'reqflow-bench-'));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  log(`bench: BENCH_SCALE=${scale.name}; stack, logs and databases in ${root}`);

  const count = peopleNeeded(scale);
  const catalogDir = writeBenchCatalog(root, count + 10);
  const people = await provisionPeople(join(dataDir, 'reqflow.db'), catalogDir, count);
  log(`bench: ${people.length} people with a laptop each, through the directory and device enrollment`);

  let bench: BenchStack | undefined;
  let ok = false;
  try {
    bench = await startBenchStack({
      name: 'bench',
      root,
      dataDir,
      catalogDir,
      people,
      scale,
      runUntil: startedAt.getTime() + scale.runSeconds * 1000,
      log,
    });
    const { ctx, agents } = bench;

    // The first request after start, then one more so the timed ones find a warm stack.
    const first = await orderVisio(ctx, ctx.nextPerson());
    log(`bench: first Visio after start fulfilled in ${first.fulfilledMs} ms`);
    const warm = await orderVisio(ctx, ctx.nextPerson());
    const shape = await historyCost(ctx.temporal, warm.id);
    log(
      `bench: a Visio request runs ${shape.activities} activities and ${shape.localActivities} local activities`,
    );
    await runBareWorkflows(ctx, shape, 3, 1);

    const b1 = await throughput(ctx, shape);
    const b2 = await submitOverhead(ctx, shape);
    const b3 = await approvalLatency(ctx);
    const b5 = await historyCosts(ctx, { standard_service: warm.id, access: b3.sampleId });
    const b6 = await readPath(ctx, { id: warm.id, requester: people[1]!.userId }, root);
    // The agents have no more work; their idle long polls would only add to B4's reads.
    await agents.stop();
    if (agents.stats.failures.length > 0) {
      throw new Error(`the agents failed:\n${agents.stats.failures.slice(0, 10).join('\n')}`);
    }
    // Last: the pile of waiting requests stays until the stack stops.
    const b4 = await openWork(ctx);

    const c1 = b1.find((l) => l.concurrency === 1);
    const partial = {
      scale: scale.name,
      startedAt: startedAt.toISOString(),
      seconds: (Date.now() - startedAt.getTime()) / 1000,
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadAverage: { start: loadAtStart, end: loadavg() },
      },
      visio: {
        firstAfterStartMs: first.fulfilledMs,
        fulfilledP50AtC1: c1?.reqflow.fulfilled.p50 ?? Number.NaN,
      },
      b1,
      b2,
      b3,
      b4,
      b5,
      b6,
    };
    const results: BenchResults = { ...partial, targets: targetsOf(partial) };
    const resultsDir = join(repoRoot, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}-${scale.name}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`\n${markdown(results)}\n\nbench: results in ${file}`);
    ok = true;
  } finally {
    await bench?.stop(ok);
    if (ok && process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
    else log(`bench: the run's folder is kept: ${root}`);
  }
}

run().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
