/**
 * `npm run temporal -- <args>`: the Temporal CLI that reqflow resolves (or builds), pointed at the
 * embedded dev server unless TEMPORAL_ADDRESS says otherwise. Example: `npm run temporal -- workflow list`.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { resolveTemporalCli } from './temporal-cli.js';

/** The port `npm start` runs its dev server on (DESIGN.md §4). */
const EMBEDDED_ADDRESS = '127.0.0.1:7233';

async function run(): Promise<void> {
  const cli = await resolveTemporalCli();
  // The CLI reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE itself; we only supply the default.
  const env = { ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS || EMBEDDED_ADDRESS };
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
  // Shell convention for "killed by a signal".
  process.exitCode = code ?? 128 + (signal ? os.constants.signals[signal] : 1);
}

run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
