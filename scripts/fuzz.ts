/**
 * `npm run fuzz`: schemathesis (all phases, all checks) against the OpenAPI document a real
 * stack serves at /docs/json. A Temporal dev server, the worker and the API on free ports and
 * a temporary DATA_DIR; people, devices and the identity provider authenticate the way the
 * document says (an operator's token, LAPTOP-ALICE's device token, SCIM_TOKEN). Fails on any
 * 5xx and on any response the document does not describe. Every check runs but one,
 * positive_data_acceptance (see below).
 *
 * schemathesis comes from PyPI into a virtualenv under ~/.cache/reqflow (Python 3.10+ needed).
 *   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 10)
 *   FUZZ_TIMEOUT_S     the whole run is stopped, and failed, after this long (default 600)
 *   FUZZ_SEED          makes the run repeatable (printed at the start)
 *   PYTHON             the interpreter for the virtualenv (default: the newest python3.1x found)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCIM_TOKEN, startStack } from '../test/helpers/stack.js';
import { deviceTokenFile } from '../devices/index.js';
import { startDevServer } from './dev-server.js';
import { resolveTemporalCli } from './temporal-cli.js';

const SCHEMATHESIS_VERSION = '4.32.5';
const log = (line: string) => console.log(`[fuzz] ${line}`);

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** The virtualenv's schemathesis, installed on first use; pinned so a run is reproducible. */
function schemathesis(): string {
  const venv = join(homedir(), '.cache', 'reqflow', `schemathesis-${SCHEMATHESIS_VERSION}`);
  const bin = join(venv, 'bin', 'schemathesis');
  if (existsSync(bin)) return bin;
  // schemathesis 4 needs Python 3.10 or newer; a distribution's python3 may be older.
  const python =
    process.env.PYTHON ??
    ['python3.13', 'python3.12', 'python3.11', 'python3.10', 'python3'].find(
      (p) => spawnSync(p, ['-c', 'import sys; sys.exit(sys.version_info < (3, 10))']).status === 0,
    );
  if (!python) throw new Error('schemathesis needs Python 3.10 or newer (set PYTHON to its interpreter)');
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv} (${python})`);
  mkdirSync(join(venv, '..'), { recursive: true });
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  };
  run(python, ['-m', 'venv', venv]);
  run(join(venv, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  return bin;
}

async function run(): Promise<void> {
  const maxExamples = int('FUZZ_MAX_EXAMPLES', 10);
  const timeoutMs = int('FUZZ_TIMEOUT_S', 600) * 1000;
  const seed = int('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31) + 1);
  const bin = schemathesis();

  const cliPath = await resolveTemporalCli({ log });
  const server = await startDevServer({ cliPath, uiPort: null, log });
  // A long poll held for its full wait would only slow the run down.
  const stack = await startStack(server.address, { AGENT_POLL_MAX_SECONDS: '2' }).catch(
    async (err: unknown) => {
      await server.stop();
      throw err;
    },
  );
  let code = 1;
  try {
    const work = mkdtempSync(join(tmpdir(), 'reqflow-fuzz-'));
    // Tokens go into the environment, which the config file names, never onto a command line.
    const env = {
      ...process.env,
      FUZZ_USER_TOKEN: await stack.login('olga'),
      FUZZ_DEVICE_TOKEN: readFileSync(deviceTokenFile(stack.dataDir, 'LAPTOP-ALICE'), 'utf8').trim(),
      FUZZ_SCIM_TOKEN: SCIM_TOKEN,
    };
    const config = join(work, 'schemathesis.toml');
    writeFileSync(
      config,
      [
        '[auth.openapi.bearerAuth]',
        'bearer = "${FUZZ_USER_TOKEN}"',
        '[auth.openapi.deviceToken]',
        'bearer = "${FUZZ_DEVICE_TOKEN}"',
        '[auth.openapi.scimToken]',
        'bearer = "${FUZZ_SCIM_TOKEN}"',
        '',
      ].join('\n'),
    );
    const args = [
      '--config-file',
      config,
      'run',
      `${stack.apiUrl}/docs/json`,
      '--url',
      stack.apiUrl,
      '--checks',
      'all',
      // Schema-valid is not the same as acceptable: an unknown catalog item (422), a link token
      // that was never issued (400 page), a SCIM filter that does not parse (400 invalidFilter).
      // A schema cannot name the catalog's items or the links reqflow signed.
      '--exclude-checks',
      'positive_data_acceptance',
      '--request-timeout',
      '30',
      '--max-examples',
      String(maxExamples),
      '--seed',
      String(seed),
      // One worker: hypothesis's source inspection is not thread-safe (sporadic
      // "AST constructor recursion depth mismatch" errors with more).
      '--workers',
      '1',
      '--no-color',
      '--report',
      'junit',
      '--report-dir',
      join(work, 'report'),
    ];
    log(`schemathesis ${args.slice(2).join(' ')} (FUZZ_SEED=${seed}; reports in ${work})`);
    const child = spawn(bin, args, { env, stdio: 'inherit', cwd: work });
    const timer = setTimeout(() => {
      log(`no result after ${timeoutMs / 1000} s: stopping schemathesis`);
      child.kill('SIGTERM');
    }, timeoutMs);
    code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    clearTimeout(timer);
    if (code !== 0) {
      // Only the API's lines: the worker's mention approve/deny links.
      const api = stack.output.filter((l) => l.startsWith('[api]'));
      log(`the API's own output (last lines):\n${api.slice(-40).join('\n')}`);
    }
  } finally {
    await stack.stop();
    await server.stop();
  }
  log(code === 0 ? 'passed' : `failed (exit ${code})`);
  process.exitCode = code;
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
