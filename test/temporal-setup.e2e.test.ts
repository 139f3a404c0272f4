import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CatalogItemKey } from '../domain/temporal.js';
import { repoRoot } from '../runtime/config.js';
import { startDevServer, type DevServer } from '../scripts/dev-server.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// A Temporal server as an installation comes (no reqflow search attributes, no reqflow
// namespace), reached only through an envconfig TOML profile, as a cluster would be.

const NAMESPACE = 'reqflow-ops';
let server: DevServer;
let dir: string;
let profileEnv: Record<string, string>;
let stack: TestStack | undefined;

beforeAll(async () => {
  server = await startDevServer({
    cliPath: inject('temporalCliPath'),
    uiPort: null,
    searchAttributes: false,
  });
  dir = mkdtempSync(join(tmpdir(), 'reqflow-setup-'));
  const profile = join(dir, 'temporal.toml');
  writeFileSync(profile, `[profile.cluster]\naddress = "${server.address}"\nnamespace = "${NAMESPACE}"\n`);
  profileEnv = { TEMPORAL_CONFIG_FILE: profile, TEMPORAL_PROFILE: 'cluster' };
});

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A reqflow entry point as an operator runs it, with only the profile to find Temporal. */
function run(
  script: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script)], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: join(dir, 'data'),
      REQFLOW_DEV_MODE: '1',
      PORT: '0',
      ...profileEnv,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe('npm run temporal:setup against a server without reqflow', () => {
  it('the worker refuses a namespace that does not exist, and says to run the setup', async () => {
    const { code, output } = await run('worker.ts');
    expect(code).not.toBe(0);
    expect(output).toContain(`namespace "${NAMESPACE}" does not exist on ${server.address}`);
    expect(output).toContain('npm run temporal:setup');
  });

  it('the API refuses a namespace without the search attributes, and says to run the setup', async () => {
    const { code, output } = await run('server.ts', { TEMPORAL_NAMESPACE: 'default' });
    expect(code).not.toBe(0);
    expect(output).toMatch(/namespace "default" on \S+ lacks the search attributes RequestType, .*WaitingOn/);
    expect(output).toContain('npm run temporal:setup');
  });

  it('creates the namespace and registers the attributes, then finds nothing to do', async () => {
    const first = await run('scripts/temporal-setup.ts');
    expect(first.output).toContain(`namespace "${NAMESPACE}" created`);
    expect(first.output).toContain(
      'search attributes registered: RequestType, RequestStatus, CatalogItem, Requester, WaitingOn',
    );
    expect(first.code).toBe(0);

    const second = await run('scripts/temporal-setup.ts');
    expect(second.output).toContain(`namespace "${NAMESPACE}" exists`);
    expect(second.output).toContain('already registered');
    expect(second.output).not.toContain('created');
    expect(second.code).toBe(0);
  });

  it('then the worker and the API start from the profile, and a request is fulfilled', async () => {
    // The helper's own client dials the address; the processes know only the profile.
    stack = await startStack(
      server.address,
      { TEMPORAL_ADDRESS: undefined, ...profileEnv },
      { namespace: NAMESPACE },
    );
    stack.startAgent('LAPTOP-ALICE');
    const alice = await stack.login('alice');
    const submitted = await stack.submit(alice, {
      catalogItemId: 'visio',
      deviceId: 'LAPTOP-ALICE',
      justification: 'Diagrams on the cluster',
    });
    const done = await stack.waitForRequest(alice, submitted.id, ended, 120_000);
    expect(done.status).toBe('fulfilled');
    const described = await stack.temporal.workflow.getHandle(submitted.id).describe();
    expect(described.typedSearchAttributes.get(CatalogItemKey)).toBe('visio');
    // Starting the stack (the worker bundles the workflows) takes most of it on a loaded machine.
  }, 240_000);
});
