/**
 * B6's baseline: a bare Fastify route in a process of its own, answering `GET /api/requests/:id`
 * with the same body reqflow answered (read from `BENCH_BODY_FILE`), on `BENCH_PORT`. What the
 * API spends beyond it is authentication, the access rule, the database read and the schema.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

async function run(): Promise<void> {
  const body = JSON.parse(readFileSync(process.env.BENCH_BODY_FILE ?? '', 'utf8')) as unknown;
  const app = Fastify({ logger: false });
  app.get('/api/requests/:id', async () => body);
  await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT) });
  console.log('ready');
  const stop = () => void app.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

run().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
