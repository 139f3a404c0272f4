/**
 * The baseline's worker, a process of its own as reqflow's worker is: `BENCH_BARE_TASK_QUEUE` on
 * the Temporal server at `TEMPORAL_ADDRESS`, with the SDK's default options. Prints "ready" once
 * it polls; stops on SIGTERM.
 */
import { NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createBareActivities } from './activities.js';

async function run(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: process.env.BENCH_BARE_TASK_QUEUE ?? 'bench-bare',
      workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
      activities: createBareActivities(),
    });
    process.once('SIGTERM', () => worker.shutdown());
    process.once('SIGINT', () => worker.shutdown());
    const running = worker.run();
    console.log('ready');
    await running;
  } finally {
    await connection.close();
  }
}

run().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
