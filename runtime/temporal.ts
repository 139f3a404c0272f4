import { Client, Connection, type ClientPlugin } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import type { Config } from './config.js';

/**
 * Connection options as `loadConfig` read them: TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TLS
 * settings or a Temporal envconfig profile (TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE), the
 * same variables the Temporal CLI reads (runtime/temporal-profile.ts).
 */
export function connectOptions(config: Config) {
  return { ...config.temporal.connection, address: config.temporal.address };
}

/** A client Connection (the API, `temporal:setup`): the same settings as the worker's. */
export async function connectTemporal(config: Config): Promise<Connection> {
  const { tls, ...rest } = connectOptions(config);
  return Connection.connect({ ...rest, ...(tls !== undefined ? { tls } : {}) });
}

export async function connectClient(config: Config, plugins: ClientPlugin[] = []): Promise<Client> {
  const connection = await connectTemporal(config);
  return new Client({ connection, namespace: config.temporal.namespace, plugins });
}

/**
 * Serves the Temporal SDK's worker metrics (task slots, poll and schedule-to-start
 * latencies, activity and workflow task outcomes) for Prometheus at
 * `http://<WORKER_METRICS_ADDRESS>/metrics` when that variable is set, e.g.
 * `127.0.0.1:9464`. The SDK's Runtime is process-wide and fixed by the first
 * connection, so worker.ts calls this before connecting. Metric names keep the SDK's
 * defaults (`temporal_…`), which Temporal's published dashboards expect. Returns the
 * address it serves on, if any.
 */
export function installWorkerTelemetry(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bindAddress = env.WORKER_METRICS_ADDRESS;
  if (!bindAddress) return undefined;
  if (!/^\S+:\d+$/.test(bindAddress))
    throw new Error(`WORKER_METRICS_ADDRESS must be host:port, e.g. 127.0.0.1:9464, got "${bindAddress}"`);
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress } } } });
  return bindAddress;
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectOptions(config));
}
