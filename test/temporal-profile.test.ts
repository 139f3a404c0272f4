import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../runtime/config.js';
import { connectOptions } from '../runtime/temporal.js';

// How the worker, the API and `temporal:setup` read their Temporal settings: envconfig TOML
// profiles and TEMPORAL_* variables, through loadConfig as the processes do. No server needed.

const dir = mkdtempSync(join(tmpdir(), 'reqflow-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
// Contents are passed through as bytes; the TLS handshake (not this test) checks them.
const clientCrt = file('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
const clientKey = file('client.key', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
const caCrt = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');

const profiles = file(
  'temporal.toml',
  `[profile.onprem]
address = "temporal.internal.example:7233"
namespace = "reqflow-prod"

[profile.onprem.tls]
client_cert_path = "${clientCrt}"
client_key_path = "${clientKey}"
server_ca_cert_path = "${caCrt}"
server_name = "temporal.internal.example"

[profile.cloud]
address = "eu-west-1.aws.api.temporal.io:7233"
namespace = "reqflow.a1b2c"
api_key = "cloud-key-123"
`,
);

/** The TLS settings with each PEM's middle line (the bytes arrive as Uint8Array). */
function readTls(tls: ReturnType<typeof connectOptions>['tls']) {
  if (typeof tls !== 'object' || tls === null) throw new Error(`no TLS settings: ${String(tls)}`);
  const middle = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString().split('\n')[1] : undefined);
  return Object.fromEntries(
    Object.entries({
      serverName: tls.serverNameOverride,
      ca: middle(tls.serverRootCACertificate),
      crt: middle(tls.clientCertPair?.crt),
      key: middle(tls.clientCertPair?.key),
    }).filter(([, v]) => v !== undefined),
  );
}

// An empty config home: nobody's ~/.config/temporalio/temporal.toml leaks into the test.
const emptyHome = join(dir, 'home');
mkdirSync(emptyHome);
const configFor = (env: NodeJS.ProcessEnv) => loadConfig({ XDG_CONFIG_HOME: emptyHome, ...env });

describe('Temporal settings from envconfig profiles and TEMPORAL_* variables', () => {
  it('a self-hosted cluster with mTLS: address, namespace, client certificate pair, CA and server name', () => {
    const config = configFor({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'onprem' });
    expect(config.temporal).toMatchObject({
      address: 'temporal.internal.example:7233',
      namespace: 'reqflow-prod',
      external: true,
    });
    const { tls, apiKey } = connectOptions(config);
    expect(apiKey).toBeUndefined();
    expect(readTls(tls)).toEqual({
      serverName: 'temporal.internal.example',
      ca: 'ca',
      crt: 'client',
      key: 'key',
    });
  });

  it('Temporal Cloud with an API key: TLS is on without any TLS setting', () => {
    const config = configFor({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'cloud' });
    expect(config.temporal.namespace).toBe('reqflow.a1b2c');
    expect(connectOptions(config)).toMatchObject({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      apiKey: 'cloud-key-123',
      tls: true,
    });
  });

  it('variables override the profile field by field', () => {
    const config = configFor({
      TEMPORAL_CONFIG_FILE: profiles,
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_NAMESPACE: 'reqflow-staging.a1b2c',
      TEMPORAL_API_KEY: 'rotated-key',
      TEMPORAL_GRPC_META_X_TEAM: 'service-desk',
    });
    expect(config.temporal.namespace).toBe('reqflow-staging.a1b2c');
    expect(connectOptions(config)).toMatchObject({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      apiKey: 'rotated-key',
      metadata: { 'x-team': 'service-desk' },
    });
  });

  it('mTLS from TEMPORAL_TLS_* variables alone, and TEMPORAL_TLS=false turns TLS off', () => {
    const tlsConfig = configFor({
      TEMPORAL_ADDRESS: 'temporal.internal.example:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: clientCrt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: clientKey,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: caCrt,
    });
    expect(readTls(connectOptions(tlsConfig).tls)).toEqual({ ca: 'ca', crt: 'client', key: 'key' });
    const plain = configFor({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_API_KEY: 'k',
      TEMPORAL_TLS: 'false',
    });
    expect(connectOptions(plain).tls).toBe(false);
  });

  it('nothing set: the embedded dev server on 127.0.0.1:7233, namespace default, no TLS', () => {
    const config = configFor({});
    expect(config.temporal).toMatchObject({
      address: '127.0.0.1:7233',
      namespace: 'default',
      external: false,
    });
    expect(connectOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('refuses a profile file that is not there, and a profile the file lacks', () => {
    expect(() => configFor({ TEMPORAL_CONFIG_FILE: join(dir, 'nope.toml') })).toThrow(
      /TEMPORAL_CONFIG_FILE names .*nope\.toml, which does not exist/,
    );
    expect(() => configFor({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'staging' })).toThrow(
      /Profile 'staging' not found/,
    );
  });
});
