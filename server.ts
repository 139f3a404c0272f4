import closeWithGrace from 'close-with-grace';
import { buildApp } from './api/app.js';
import { closeDatabase, connectDatabase } from './db/client.js';
import { loadConfig } from './runtime/config.js';
import { checkStartup } from './runtime/startup-checks.js';
import { resolveSecret } from './runtime/secrets.js';
import { connectClient } from './runtime/temporal.js';
import { fastifyInstrumentation, startTracing } from './runtime/tracing.js';
import { temporalTracingPlugin } from './runtime/temporal-tracing.js';
import { checkNamespaceReady } from './runtime/temporal-namespace.js';

async function run(): Promise<void> {
  const config = loadConfig();
  checkStartup(config);
  const db = await connectDatabase(config);
  // Before the Temporal client and the app: both take the tracer provider it registers.
  const tracing = await startTracing('reqflow-api');
  const temporal = await connectClient(config, tracing ? [await temporalTracingPlugin(tracing)] : []);
  // Before anything is served: a workflow started now could not record its search attributes.
  const namespaceWarning = await checkNamespaceReady(
    temporal.connection,
    config.temporal.namespace,
    config.temporal.address,
  ).catch(async (err: unknown) => {
    await temporal.connection.close();
    throw err;
  });
  const app = await buildApp({
    db,
    temporal,
    config,
    secret: resolveSecret(config),
    ...(tracing ? { tracing: await fastifyInstrumentation() } : {}),
    logger: {
      level: process.env.LOG_LEVEL ?? 'info',
      ...(process.stdout.isTTY || process.env.LOG_PRETTY === '1'
        ? {
            transport: {
              target: 'pino-pretty',
              options: { translateTime: 'HH:MM:ss', singleLine: true, ignore: 'pid,hostname' },
            },
          }
        : {}),
    },
  });

  if (namespaceWarning) app.log.warn(namespaceWarning);

  // In order: stop accepting and end the long polls (app.close, see api/plugins/drain.ts),
  // let the handlers in flight finish, then close what they use. A second signal, or a
  // close that takes longer than the delay, exits at once.
  const closer = closeWithGrace(
    { delay: 20_000, logger: { error: (msg: unknown) => app.log.error(msg) } },
    async ({ signal, err, manual }) => {
      if (err) app.log.error({ err }, 'closing the API after an unexpected error');
      else app.log.info(`${signal ?? (manual ? 'the stack is gone' : 'exit')}: closing the API`);
      try {
        await app.close();
      } finally {
        await temporal.connection.close();
        await closeDatabase(db);
        await tracing?.shutdown();
      }
      app.log.info('API closed');
    },
  );
  // Started by `npm start`: its IPC channel closes when the stack dies, even by kill -9.
  process.once('disconnect', () => void closer.close());
  process.channel?.unref();
  // Gone while the API was still starting: the event has passed already.
  if (process.send && !process.connected) return closer.close();
  await app.listen({ host: config.host, port: config.port });
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
