/**
 * One in-memory, headless Temporal dev server for the whole test run: starting one takes a few
 * seconds, and workflow tests isolate themselves by unique workflow ids and task queues anyway.
 * Resolving the CLI may build it from source on a fresh machine (minutes, with progress on stderr).
 */
import type { TestProject } from 'vitest/node';
import { buildPortal } from '../scripts/build-portal.js';
import { startDevServer } from '../scripts/dev-server.js';
import { resolveTemporalCli } from '../scripts/temporal-cli.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the shared dev server, namespace `default`. */
    temporalAddress: string;
    /** The Temporal CLI binary, for tests that start a server of their own. */
    temporalCliPath: string;
  }
}

const log = (line: string) => process.stderr.write(`[global-setup] ${line}\n`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cliPath = await resolveTemporalCli({ log });
  // Once for the run, here rather than in a test file: the browser tests load the built
  // portal from the API, and no test process should spend its time running vite.
  if (await buildPortal({ quiet: true })) log('built the portal into dist/portal');
  const server = await startDevServer({ cliPath, uiPort: null, log });
  project.provide('temporalAddress', server.address);
  project.provide('temporalCliPath', cliPath);
  return () => server.stop();
}
