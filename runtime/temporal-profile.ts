import { existsSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/**
 * Where reqflow's processes find Temporal, read the way the Temporal CLI and SDKs read it
 * (`@temporalio/envconfig`): a TOML profile (TEMPORAL_CONFIG_FILE, default
 * `~/.config/temporalio/temporal.toml`; TEMPORAL_PROFILE, default `default`), overridden
 * field by field by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*
 * and TEMPORAL_GRPC_META_*.
 */
export interface TemporalProfile {
  /** Undefined when neither the profile nor TEMPORAL_ADDRESS names a server: the embedded one. */
  address: string | undefined;
  namespace: string | undefined;
  /** TLS, API key and gRPC metadata, for `Connection.connect` and `NativeConnection.connect`. */
  connection: Omit<NativeConnectionOptions, 'address'>;
}

export function readTemporalProfile(env: NodeJS.ProcessEnv = process.env): TemporalProfile {
  const file = env.TEMPORAL_CONFIG_FILE;
  // envconfig treats a missing file as "no profiles", which would silently dial localhost
  // instead of the cluster the operator meant.
  if (file && !existsSync(file)) throw new Error(`TEMPORAL_CONFIG_FILE names ${file}, which does not exist.`);
  const { namespace, connectionOptions } = loadClientConnectConfig({
    overrideEnvVars: Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
    ),
  });
  const { address, tls, apiKey, metadata } = connectionOptions;
  return {
    address: address || undefined,
    namespace: namespace || undefined,
    connection: {
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    },
  };
}
