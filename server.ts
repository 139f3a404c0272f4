import { buildApp } from './api/app.js';
import { openDatabase } from './db/client.js';
import { loadConfig } from './runtime/config.js';
import { checkStartup } from './runtime/startup-checks.js';
import { resolveSecret } from './runtime/secrets.js';
import { connectClient, ensureSearchAttributes } from './runtime/temporal.js';

async function run(): Promise<void> {
  const config = loadConfig();
  checkStartup(config);
  const db = openDatabase(config.databaseFile);
  const temporal = await connectClient(config);
  const app = await buildApp({
    db,
    temporal,
    config,
    secret: resolveSecret(config),
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
  try {
    await ensureSearchAttributes(temporal.connection, config.temporal.namespace);
  } catch (err) {
    app.log.warn(
      { err },
      'could not register search attributes; register RequestType, RequestStatus, CatalogItem, Requester (Keyword) by hand',
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${signal}: closing the API`);
    try {
      await app.close();
    } finally {
      await temporal.connection.close();
      db.$client.close();
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop(signal).catch((err) => {
        console.error(err);
        process.exitCode = 1;
      });
    });
  }
  await app.listen({ host: config.host, port: config.port });
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
