import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createActivities } from './activities/index.js';
import { closeDatabase, connectDatabase } from './db/client.js';
import { createOutboxDispatcher, type OutboxDispatcher } from './notifications/outbox.js';
import { transportFromEnv } from './notifications/transports.js';
import { loadConfig } from './runtime/config.js';
import { jobDoorbellDir, jobDoorbellRinger } from './runtime/job-doorbell.js';
import { checkStartup } from './runtime/startup-checks.js';
import { WORKER_POLLING } from './runtime/stack-state.js';
import { resolveSecret } from './runtime/secrets.js';
import { ensureMonthlyReportSchedule } from './runtime/schedules.js';
import { connectWorker, installWorkerTelemetry } from './runtime/temporal.js';
import { startTracing } from './runtime/tracing.js';
import { startWarmUp } from './runtime/warm-up.js';
import { temporalTracingPlugin } from './runtime/temporal-tracing.js';
import { checkNamespaceReady } from './runtime/temporal-namespace.js';

// tsx runs the .ts sources; `npm run build` emits .js beside them in dist/.
function workflowsPath(): string {
  const ts = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('./workflows/index.js', import.meta.url));
}

async function run(): Promise<void> {
  const config = loadConfig();
  checkStartup(config, 'worker');
  const db = await connectDatabase(config);
  // Before the first connection: the SDK's runtime (and its Prometheus exporter) is made once.
  const telemetry = installWorkerTelemetry();
  if (telemetry) console.log(`worker metrics (Temporal SDK) at http://${telemetry}/metrics`);
  const tracing = await startTracing('reqflow-worker');
  const plugins = tracing ? [await temporalTracingPlugin(tracing)] : [];
  const connection = await connectWorker(config);
  let outbox: OutboxDispatcher | undefined;
  try {
    const namespaceWarning = await checkNamespaceReady(
      connection,
      config.temporal.namespace,
      config.temporal.address,
    );
    if (namespaceWarning) console.warn(`warning: ${namespaceWarning}`);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      // Bundled here rather than by Worker.create so webpack's build report stays out of the log.
      // With tracing on, the plugin adds the workflow interceptors to the bundle and the
      // activity interceptors and the span sink to the worker.
      plugins,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: workflowsPath(),
        logger: new DefaultLogger('WARN'),
        plugins,
      }),
      activities: createActivities({
        db,
        packagesDirs: config.packagesDirs,
        publicUrl: config.publicUrl,
        // The API verifies approve/deny links with the same secret it signs user tokens with.
        linkSecret: resolveSecret(config),
        linkTtlMs: config.approvalLinkTtlMs,
        // On PostgreSQL queueing a job notifies the API nodes itself (runtime/job-doorbell.ts).
        ...(config.databaseUrl ? {} : { jobQueued: jobDoorbellRinger(jobDoorbellDir(config.databaseFile)) }),
      }),
      // Bounded so that thousands of requests waiting for people keep the worker's memory flat
      // (README: Configuration); the SDK's default grows with the heap.
      maxCachedWorkflows: config.workerMaxCachedWorkflows,
      // Give in-flight activities (SQLite writes) time to finish on Ctrl-C; anything
      // cut off is retried by Temporal when a worker comes back.
      shutdownGraceTime: '10s',
    });
    // Delivery runs beside the worker, not as an activity: a message leaves when the
    // outbox row is committed, and several workers share the outbox safely (notifications/outbox.ts).
    const log = (line: string) => console.log(line);
    const transport = transportFromEnv(process.env, log);
    outbox = createOutboxDispatcher({ db, transport, log });
    outbox.start();
    console.log(`outbox delivering notifications via ${transport.name}`);
    console.log(`worker polling task queue "${config.temporal.taskQueue}" on ${config.temporal.address}`);
    await ensureMonthlyReportSchedule(connection, config);
    // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown (stop polling, let the
    // tasks in hand finish within shutdownGraceTime), which ends run(). Started by `npm start`,
    // the IPC channel closing means the stack is gone (even by kill -9): drain the same way.
    const drain = () => {
      // Before run() has started polling there is nothing to shut down yet: wait for it.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      else if (worker.getState() === 'INITIALIZED') setTimeout(drain, 100);
    };
    process.once('disconnect', drain);
    process.channel?.unref();
    // Gone while this worker was still starting: the event has passed already.
    if (process.send && !process.connected) drain();
    const running = worker.run();
    // The first workflow a worker runs is slow (its code loads into its sandbox, its first local
    // activity sets up): a throwaway one takes that cost now instead of the first request. In
    // the background, never failing: `running` is awaited below at once.
    void startWarmUp(connection, config.temporal, log);
    // Tell npm start (scripts/stack.ts) that requests no longer wait for a worker; a stack gone
    // meanwhile is no error (the callback takes it).
    if (process.connected) process.send?.(WORKER_POLLING, undefined, undefined, () => undefined);
    await running;
  } finally {
    // Before the database closes: a pass in flight still records what it sent.
    await outbox?.stop();
    await connection.close();
    await closeDatabase(db);
    await tracing?.shutdown();
  }
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
