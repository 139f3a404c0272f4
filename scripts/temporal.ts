/**
 * `npm run temporal -- <args>`: the Temporal CLI that reqflow resolves (or builds), pointed at the
 * server the stack uses. Example: `npm run temporal -- workflow list`.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { loadConfig } from '../runtime/config.js';
import { readStackState, stackIsRunning, stackStateFile } from '../runtime/stack-state.js';
import { resolveTemporalCli } from './temporal-cli.js';

/** The port `npm start` runs its dev server on when TEMPORAL_PORT is not set. */
const DEFAULT_PORT = 7233;

/**
 * First hit wins: TEMPORAL_ADDRESS; TEMPORAL_PORT (the embedded server's port); the server a
 * running `npm start` on this DATA_DIR uses, which it records in stack.json whatever port it
 * was started with; 127.0.0.1:7233.
 */
function temporalTarget(env: NodeJS.ProcessEnv): { address: string; from: string } {
  if (env.TEMPORAL_ADDRESS) return { address: env.TEMPORAL_ADDRESS, from: 'TEMPORAL_ADDRESS' };
  if (env.TEMPORAL_PORT) return { address: `127.0.0.1:${env.TEMPORAL_PORT}`, from: 'TEMPORAL_PORT' };
  const file = stackStateFile(loadConfig(env).dataDir);
  const stack = readStackState(file);
  if (stack && stackIsRunning(stack)) {
    return { address: stack.temporal.address, from: `the stack running on ${file}` };
  }
  return {
    address: `127.0.0.1:${DEFAULT_PORT}`,
    from: `the default (no running stack recorded in ${file})`,
  };
}

async function run(): Promise<void> {
  const cli = await resolveTemporalCli();
  const target = temporalTarget(process.env);
  const env = { ...process.env, TEMPORAL_ADDRESS: target.address };
  const child = spawn(cli, process.argv.slice(2), { stdio: 'inherit', env });

  // Forwarded for `kill <pid>` from elsewhere; a terminal's Ctrl-C reaches the child directly as
  // well, and the CLI treats a second SIGINT like the first (no forced exit).
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of signals) process.on(signal, forward);

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  });
  for (const s of signals) process.off(s, forward);
  // On stderr, so that `--output json` on stdout stays parseable; only on failure, when it helps.
  if (code !== 0 && code !== null) {
    process.stderr.write(`[npm run temporal] the CLI dialed ${target.address}, from ${target.from}\n`);
  }
  // Shell convention for "killed by a signal".
  process.exitCode = code ?? 128 + (signal ? os.constants.signals[signal] : 1);
}

run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
