import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Runtime } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../domain/temporal.js';
import type { Config } from './config.js';

/**
 * Connection options from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TLS settings or a Temporal envconfig profile
 * (TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE) — the same variables the Temporal CLI reads.
 */
function connectOptions(config: Config) {
  const fromEnv = loadClientConnectConfig();
  return {
    ...fromEnv.connectionOptions,
    address: fromEnv.connectionOptions.address ?? config.temporal.address,
  };
}

export async function connectClient(config: Config): Promise<Client> {
  const opts = connectOptions(config);
  const connection = await Connection.connect({ ...opts, tls: opts.tls ?? undefined });
  return new Client({ connection, namespace: config.temporal.namespace });
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

/** The server's names for the types of the attributes reqflow defines. */
export const INDEXED_VALUE_TYPE = {
  KEYWORD: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/**
 * Registers the search attributes operators filter on, on the namespace. Idempotent:
 * the embedded dev server registers them at start already, and a cluster keeps them.
 * On Temporal Cloud the operator service refuses this call; there they are created
 * once with `tcld`, so a permission error is reported, not fatal.
 */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  const searchAttributes: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of missing) searchAttributes[key.name] = INDEXED_VALUE_TYPE[key.type];
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
}
