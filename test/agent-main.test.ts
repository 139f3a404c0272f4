import { DEVICE_TOKEN_REFUSED } from '../agent/exit-codes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentJob, JobResult } from '../agent/run-job.js';

const TOKEN = 'test-device-token';
const DEVICE = 'LAPTOP-TEST';
const projectDir = join(import.meta.dirname, '..');

/** Stands in for the reqflow API's agent routes, recording what the agent sends. */
class FakeApi {
  readonly queue: AgentJob[] = [];
  readonly results: { jobId: string; body: JobResult }[] = [];
  /** Status codes to answer result posts with, in order, before answering 200. */
  readonly resultStatuses: number[] = [];
  pollStatus = 200;
  polls = 0;
  private waiting: (() => void)[] = [];
  private server: Server = createServer((req, res) => void this.handle(req, res));

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  enqueue(job: AgentJob): void {
    this.queue.push(job);
    for (const wake of this.waiting.splice(0)) wake();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { title: 'Unauthorized' });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/agent/jobs') {
      this.polls += 1;
      if (this.pollStatus !== 200) return send(res, this.pollStatus, { title: 'nope' });
      if (this.queue.length === 0) {
        // Hold the poll like the real API, until a job arrives or the agent gives up.
        await new Promise<void>((resolve) => {
          this.waiting.push(resolve);
          res.on('close', resolve);
        });
      }
      if (res.destroyed) return;
      return send(res, 200, { jobs: this.queue.splice(0) });
    }
    const result = /^\/api\/agent\/jobs\/([^/]+)\/result$/.exec(url.pathname);
    if (req.method === 'POST' && result) {
      let raw = '';
      for await (const chunk of req) raw += String(chunk);
      const status = this.resultStatuses.shift() ?? 200;
      if (status === 200)
        this.results.push({ jobId: decodeURIComponent(result[1]!), body: JSON.parse(raw) as JobResult });
      return send(
        res,
        status,
        status === 200 ? { ok: true } : { title: 'Conflict', detail: `status ${status}` },
      );
    }
    send(res, 404, { title: 'Not Found' });
  }
}

/** The ids of the jobs the agent's journal holds (received, not yet reported). */
function journaledJobs(root: string): string[] {
  const file = join(root, '.reqflow', 'agent-journal.json');
  return (JSON.parse(readIfExists(file) || '{"jobs":[]}') as { jobs: { id: string }[] }).jobs.map(
    (j) => j.id,
  );
}

function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  let output = '';
  // Node itself with tsx's loader (no tsx wrapper process): a SIGKILL reaches the agent, as under npm start.
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], {
    cwd: projectDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  agents.push(child);
  return { child, output: () => output, exited };
}

function job(id: string, install: string, detect = '[ -f installed ]\n'): AgentJob {
  return {
    id,
    requestId: `REQ-${id}`,
    action: 'install',
    attempt: 1,
    package: {
      id: 'testpkg',
      name: 'Test Package',
      version: '1.0.0',
      timeoutSeconds: 30,
      scripts: { detect, install, uninstall: 'rm -f installed\n' },
    },
  };
}

let dataDir: string;
let api: FakeApi;
let agents: ChildProcess[] = [];

beforeEach(async () => {
  dataDir = await realpath(await mkdtemp(join(tmpdir(), 'reqflow-agent-main-')));
  const deviceDir = join(dataDir, 'devices', DEVICE);
  await mkdir(deviceDir, { recursive: true });
  await writeFile(join(deviceDir, 'agent.token'), `${TOKEN}\n`);
  api = new FakeApi();
});

afterEach(async () => {
  for (const child of agents) if (child.exitCode === null) child.kill('SIGKILL');
  agents = [];
  await api.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('agent process', { timeout: 60_000 }, () => {
  it('runs a queued job, reports it, and exits 0 on SIGTERM', async () => {
    const url = await api.listen();
    const agent = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(api.polls).toBeGreaterThan(0), { timeout: 20_000, interval: 50 });
    api.enqueue(job('JOB-A', 'echo hello from install; touch installed\n'));

    await vi.waitFor(() => expect(api.results).toHaveLength(1), { timeout: 20_000, interval: 50 });
    const [{ jobId, body }] = api.results as [{ jobId: string; body: JobResult }];
    expect(jobId).toBe('JOB-A');
    expect(body).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(body.output).toContain('hello from install');
    expect(Number.isNaN(Date.parse(body.startedAt))).toBe(false);
    expect(Number.isNaN(Date.parse(body.finishedAt))).toBe(false);
    await vi.waitFor(
      () => expect(agent.output()).toMatch(/job JOB-A install testpkg 1.0.0: succeeded \(exit 0\)/),
      { timeout: 20_000, interval: 50 },
    );
    expect(agent.output()).toContain(`[${DEVICE}] `);
    // The default install root lives under DATA_DIR.
    expect(agent.output()).toContain(join(dataDir, 'devices', DEVICE, 'root'));

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.output()).toContain('stopped');
  });

  it('finishes and reports the running job before exiting on SIGTERM', async () => {
    const url = await api.listen();
    api.enqueue(job('JOB-B', 'touch started; sleep 2; echo finished; touch installed\n'));
    const agent = startAgent(['--device', DEVICE, '--api', url]);
    const root = join(dataDir, 'devices', DEVICE, 'root');
    await vi.waitFor(() => expect(agent.output()).toContain('JOB-B install testpkg 1.0.0: started'), {
      timeout: 20_000,
      interval: 50,
    });
    await vi.waitFor(() => expect(existsSync(join(root, 'started'))).toBe(true), {
      timeout: 10_000,
      interval: 20,
    });
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(api.results).toHaveLength(1);
    expect(api.results[0]?.body).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(api.results[0]?.body.output).toContain('finished');
  });

  it('waits for an API that is not up yet, logging the outage once', async () => {
    const probe = new FakeApi();
    const port = new URL(await probe.listen()).port;
    await probe.close();
    const agent = startAgent(['--device', DEVICE, '--api', `http://127.0.0.1:${port}`]);
    await vi.waitFor(() => expect(agent.output()).toContain('API unavailable'), {
      timeout: 20_000,
      interval: 50,
    });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    api.enqueue(job('JOB-C', 'touch installed\n'));
    await api.listen(Number(port));
    await vi.waitFor(() => expect(api.results).toHaveLength(1), { timeout: 30_000, interval: 50 });
    expect(agent.output().match(/API unavailable/g)).toHaveLength(1);
    expect(agent.output()).toContain('API reachable again');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('retries a result the API could not take, and drops one it answers 409', async () => {
    const url = await api.listen();
    api.resultStatuses.push(503, 503);
    api.enqueue(job('JOB-D', 'touch installed\n'));
    const agent = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(api.results).toHaveLength(1), { timeout: 30_000, interval: 50 });
    // The agent logs the delivery after the API answered; its output arrives a moment later.
    await vi.waitFor(() => expect(agent.output()).toContain('result delivered on attempt 3'), {
      timeout: 10_000,
      interval: 50,
    });

    api.resultStatuses.push(409);
    api.enqueue(job('JOB-E', 'touch installed\n'));
    await vi.waitFor(
      () => expect(agent.output()).toContain('JOB-E install testpkg 1.0.0: result not taken'),
      {
        timeout: 20_000,
        interval: 50,
      },
    );
    expect(api.results).toHaveLength(1);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('finishes the job of an agent killed mid-install: detect finds the one install', async () => {
    const url = await api.listen();
    const install = 'echo begin >> runs; sleep 2; touch installed; echo installed >> runs\n';
    api.enqueue(job('JOB-K', install));
    const root = join(dataDir, 'devices', DEVICE, 'root');
    const first = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(readIfExists(join(root, 'runs'))).toContain('begin'), {
      timeout: 20_000,
      interval: 20,
    });
    first.child.kill('SIGKILL');
    await first.exited;
    expect(journaledJobs(root)).toEqual(['JOB-K']);

    const second = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(api.results).toHaveLength(1), { timeout: 30_000, interval: 50 });
    expect(api.results[0]).toMatchObject({
      jobId: 'JOB-K',
      body: { outcome: 'already_installed', exitCode: 0 },
    });
    expect(second.output()).toContain(
      'job JOB-K install testpkg 1.0.0: left unfinished by the previous agent',
    );
    // Whether it still ran when the second agent came (it waited) or had finished, it ran once.
    expect(readIfExists(join(root, 'runs'))).toBe('begin\ninstalled\n');
    await vi.waitFor(() => expect(journaledJobs(root)).toEqual([]), { timeout: 20_000 });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('waits for a script it finds running even when the killed agent had not journaled it yet', async () => {
    const url = await api.listen();
    const root = join(dataDir, 'devices', DEVICE, 'root');
    // It runs until the test lets it finish: on a loaded machine the agent may take seconds to start.
    const install = 'while [ ! -e go ]; do sleep 0.05; done; touch installed; echo installed >> runs\n';
    const left = job('JOB-R', install);
    // What a kill right after the spawn leaves: the job journaled, its script running, no record of it.
    const scripts = join(root, '.reqflow', 'packages', 'testpkg', '1.0.0');
    await mkdir(scripts, { recursive: true });
    await writeFile(join(scripts, 'install.sh'), install);
    await writeFile(join(root, '.reqflow', 'agent-journal.json'), JSON.stringify({ jobs: [left] }));
    const orphan = spawn('/bin/sh', [join(scripts, 'install.sh')], {
      cwd: root,
      detached: true,
      stdio: 'ignore',
    });
    orphan.unref();

    const agent = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(
      () =>
        expect(agent.output()).toContain(
          `its script (process group ${orphan.pid}) still runs; waiting for it`,
        ),
      { timeout: 60_000, interval: 50 },
    );
    expect(api.results).toHaveLength(0);
    await writeFile(join(root, 'go'), '');
    await vi.waitFor(() => expect(api.results).toHaveLength(1), { timeout: 60_000, interval: 50 });
    expect(api.results[0]).toMatchObject({ jobId: 'JOB-R', body: { outcome: 'already_installed' } });
    expect(readIfExists(join(root, 'runs'))).toBe('installed\n');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  }, 150_000);

  it('runs the jobs received with the one in hand after a kill, none left for the lease', async () => {
    const url = await api.listen();
    // Both in one poll answer: the API hands them to this device and to no one else.
    api.enqueue(job('JOB-1', 'echo begin >> runs; sleep 2; touch installed\n'));
    api.enqueue(job('JOB-2', 'touch second\n', '[ -f second ]\n'));
    const root = join(dataDir, 'devices', DEVICE, 'root');
    const first = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(readIfExists(join(root, 'runs'))).toContain('begin'), {
      timeout: 20_000,
      interval: 20,
    });
    first.child.kill('SIGKILL');
    await first.exited;
    expect(journaledJobs(root)).toEqual(['JOB-1', 'JOB-2']);

    const second = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(api.results.map((r) => r.jobId)).toEqual(['JOB-1', 'JOB-2']), {
      timeout: 30_000,
      interval: 50,
    });
    expect(api.results.map((r) => r.body.outcome)).toEqual(['already_installed', 'succeeded']);
    await vi.waitFor(() => expect(journaledJobs(root)).toEqual([]), { timeout: 20_000 });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('runs a job cut off by a forced stop again at the next start', async () => {
    const url = await api.listen();
    api.enqueue(job('JOB-F', 'touch begun; sleep 30; touch installed\n'));
    const root = join(dataDir, 'devices', DEVICE, 'root');
    const first = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(existsSync(join(root, 'begun'))).toBe(true), {
      timeout: 20_000,
      interval: 20,
    });
    first.child.kill('SIGTERM');
    await vi.waitFor(() => expect(first.output()).toContain('stopping after the current job'), {
      timeout: 20_000,
    });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(1);
    expect(first.output()).toContain('killed by forced shutdown; the agent runs it again at its next start');
    expect(api.results).toHaveLength(0);

    api.queue.length = 0;
    const second = startAgent(['--device', DEVICE, '--api', url]);
    await vi.waitFor(() => expect(second.output()).toContain('JOB-F install testpkg 1.0.0: started'), {
      timeout: 20_000,
      interval: 50,
    });
    // Its script was killed with the first agent: nothing to wait for.
    expect(second.output()).not.toContain('still runs');
    second.child.kill('SIGTERM');
    await vi.waitFor(() => expect(second.output()).toContain('stopping after the current job'), {
      timeout: 20_000,
    });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(1);
  });

  it('exits 77 (not to be restarted) when the API refuses the token', async () => {
    const url = await api.listen();
    const agent = startAgent(['--device', DEVICE, '--api', url], { REQFLOW_DEVICE_TOKEN: 'wrong' });
    expect(await agent.exited).toBe(DEVICE_TOKEN_REFUSED);
    expect(agent.output()).toContain('refused the device token (HTTP 401)');
  });

  it('exits 1 and says where it looked when there is no token', async () => {
    const agent = startAgent(['--device', 'LAPTOP-NOTOKEN', '--api', 'http://127.0.0.1:9']);
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toContain(join(dataDir, 'devices', 'LAPTOP-NOTOKEN', 'agent.token'));
    expect(agent.output()).toContain('REQFLOW_DEVICE_TOKEN');
  });
});
