/**
 * `npm run temporal:setup`: prepares the Temporal namespace that the configuration names
 * (TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_TLS* or an envconfig
 * profile, as the worker and the API read them): creates the namespace when it is missing and
 * the credentials may, and registers reqflow's search attributes. Safe to run again.
 */
import { loadConfig } from '../runtime/config.js';
import { connectTemporal } from '../runtime/temporal.js';
import { setUpNamespace } from '../runtime/temporal-namespace.js';

async function run(): Promise<void> {
  const config = loadConfig();
  const { address, namespace } = config.temporal;
  const say = (line: string) => console.log(`[temporal:setup] ${line}`);
  say(`Temporal at ${address}, namespace "${namespace}"`);
  const connection = await connectTemporal(config);
  try {
    await setUpNamespace(connection, namespace, say);
  } finally {
    await connection.close();
  }
}

run().catch((err: unknown) => {
  console.error(`[temporal:setup] ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
