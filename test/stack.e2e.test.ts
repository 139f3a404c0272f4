import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import { isFinalStatus } from '../domain/status.js';
import { repoRoot } from '../runtime/config.js';
import { stackStateFile } from '../runtime/stack-state.js';
import { alive, startNpmStart, type NpmStart } from './helpers/npm-start.js';

// `npm start` as an operator runs it: the real stack script with its own Temporal dev server,
// worker, API and agent, each killed with SIGKILL the way `kill -9` does it.

async function call(stack: NpmStart, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

/** Submits a fully automated request and waits, with a deadline, for its end. */
async function askTheVpnAddress(stack: NpmStart): Promise<RequestView> {
  const login = await call(stack, 'POST', '/api/dev/login', undefined, { userId: 'alice' });
  const { token } = login.json() as { token: string };
  const submitted = await call(stack, 'POST', '/api/requests', token, { catalogItemId: 'vpn-address' });
  expect(submitted.status).toBe(202);
  const { id } = submitted.json() as RequestView;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const view = (await call(stack, 'GET', `/api/requests/${id}`, token)).json() as RequestView;
    if (isFinalStatus(view.status)) return view;
    if (Date.now() > deadline) throw new Error(`${id} did not end:\n${stack.output.slice(-60).join('\n')}`);
    await sleep(200);
  }
}

/** Asks /health every 100 ms until stopped; counts every answer that is not a 200. */
function watchHealth(stack: NpmStart) {
  let failures = 0;
  let answers = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        if ((await fetch(`${stack.apiUrl}/health`)).status === 200) answers++;
        else failures++;
      } catch {
        failures++;
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { failures, answers };
    },
  };
}

describe('npm start with its own Temporal dev server', () => {
  let stack: NpmStart;
  beforeAll(async () => {
    stack = await startNpmStart({ TEMPORAL_CLI_PATH: inject('temporalCliPath') });
  });
  afterAll(async () => {
    await stack?.kill();
  });

  it('restarts a worker killed with SIGKILL, serving again while the API stays up', async () => {
    const worker = await stack.waitForPid('worker');
    const api = await stack.waitForPid('api');
    const health = watchHealth(stack);
    process.kill(worker, 'SIGKILL');
    const restarted = await stack.waitForPid('worker', worker, 60_000);
    expect(alive(restarted)).toBe(true);
    // Serving: a request that needs the worker at every step gets to its end.
    expect((await askTheVpnAddress(stack)).status).toBe('fulfilled');
    const { failures, answers } = await health.stop();
    expect(failures).toBe(0);
    expect(answers).toBeGreaterThan(0);
    expect(stack.state()?.processes.api?.pid).toBe(api);
    expect(stack.output).toContain(
      '[stack] worker exited unexpectedly with code 137 (SIGKILL); restart 1 in 500 ms',
    );

    const metrics = (await call(stack, 'GET', '/metrics')).text;
    expect(metrics).toContain('reqflow_stack_restarts_total{process="worker"} 1');
    expect(metrics).toContain('reqflow_stack_restarts_total{process="api"} 0');
    expect(metrics).toContain('reqflow_stack_process_up{process="temporal"} 1');
  });

  it('restarts the Temporal dev server on the same file; requests go on', async () => {
    const before = await askTheVpnAddress(stack);
    const server = await stack.waitForPid('temporal');
    process.kill(server, 'SIGKILL');
    await stack.waitForPid('temporal', server, 90_000);
    expect((await askTheVpnAddress(stack)).status).toBe('fulfilled');
    // The history from before the crash is still there: same file.
    const login = await call(stack, 'POST', '/api/dev/login', undefined, { userId: 'alice' });
    const { token } = login.json() as { token: string };
    expect((await call(stack, 'GET', `/api/requests/${before.id}`, token)).status).toBe(200);
  });

  it('points `npm run temporal` at the port the stack started its server on', async () => {
    const run = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'scripts/temporal.ts'), 'workflow', 'count'],
      {
        cwd: repoRoot,
        // No TEMPORAL_ADDRESS or TEMPORAL_PORT: only the data directory says where the stack runs.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: stack.dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    run.stdout.on('data', (c: Buffer) => (out += c.toString()));
    run.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/Total: \d+/);
  });

  it('stops every process in order on Ctrl-C, logging no error', async () => {
    const pids = Object.values(stack.state()?.processes ?? {}).map((p) => p.pid!);
    expect(pids).toHaveLength(4);
    expect(await stack.stop()).toBe(0);
    const order = stack.output.filter((l) => l.startsWith('[stack] stopping the '));
    expect(order).toEqual([
      '[stack] stopping the agent',
      '[stack] stopping the api',
      '[stack] stopping the worker',
      '[stack] stopping the Temporal dev server',
    ]);
    const stopLines = stack.output.slice(stack.output.indexOf('[stack] SIGINT: stopping'));
    expect(stopLines.filter((l) => /error|not open|exception/i.test(l))).toEqual([]);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(stackStateFile(stack.dataDir))).toBe(false);
  });
});

describe('npm start killed with SIGKILL', () => {
  const stacks: NpmStart[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.kill();
  });

  it('takes its worker, API and agent with it, and the next start stops the dev server it left', async () => {
    const first = await startNpmStart({ TEMPORAL_CLI_PATH: inject('temporalCliPath') });
    stacks.push(first);
    const { pid, processes } = first.state()!;
    process.kill(pid, 'SIGKILL');
    // They see the IPC channel to the stack close, and stop.
    const deadline = Date.now() + 60_000;
    const children = ['worker', 'api', 'agent'].map((name) => processes[name]!.pid!);
    while (children.some(alive) && Date.now() < deadline) await sleep(100);
    expect(children.filter(alive)).toEqual([]);
    const server = processes.temporal!.pid!;
    expect(alive(server)).toBe(true);

    const second = await startNpmStart({ TEMPORAL_CLI_PATH: inject('temporalCliPath') }, first.dataDir);
    stacks.push(second);
    expect(second.output).toContain(
      `[stack] stopping the Temporal dev server (pid ${server}) that a killed npm start left running`,
    );
    expect(alive(server)).toBe(false);
    expect(await second.stop()).toBe(0);
    // Two whole stacks start and stop here: on a loaded machine that is more than a minute.
  }, 180_000);
});

describe('npm start against a Temporal server of its own choosing', () => {
  let stack: NpmStart;
  beforeAll(async () => {
    stack = await startNpmStart({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `stack-${randomUUID()}`,
      REQFLOW_DEV_MODE: '1',
    });
  });
  afterAll(async () => {
    await stack?.kill();
  });

  it('stops the whole stack with a clear message after five crashes in a minute', async () => {
    let pid = await stack.waitForPid('worker');
    for (let crash = 1; crash <= 5; crash++) {
      process.kill(pid, 'SIGKILL');
      if (crash < 5) pid = await stack.waitForPid('worker', pid, 60_000);
    }
    expect(await stack.exited).toBe(1);
    expect(stack.output).toContain(
      '[stack] worker crashed 5 times within 60 s (last: code 137 (SIGKILL)); giving up. ' +
        'The stack cannot run without it; see its output above.',
    );
    expect(stack.output.at(-1)).toBe('[stack] stopped');
    for (const p of ['api', 'agent']) expect(stack.output).toContain(`[stack] stopping the ${p}`);
  });
});
