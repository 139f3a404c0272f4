import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  OUTPUT_LIMIT,
  packageScriptsDir,
  runJob,
  type AgentJob,
  type AgentPackage,
} from '../agent/run-job.js';

const DEVICE = 'LAPTOP-TEST';
let root: string;
let jobCount = 0;

beforeEach(async () => {
  // realpath: scripts report `pwd`, which resolves any symlink in the temp directory's path.
  root = await realpath(await mkdtemp(join(tmpdir(), 'reqflow-agent-')));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function pkg(scripts: Partial<AgentPackage['scripts']>, extra: Partial<AgentPackage> = {}): AgentPackage {
  return {
    id: 'testpkg',
    name: 'Test Package',
    version: '1.0.0',
    timeoutSeconds: 30,
    scripts: { detect: 'exit 1\n', install: 'exit 0\n', uninstall: 'exit 0\n', ...scripts },
    ...extra,
  };
}

function job(action: AgentJob['action'], p: AgentPackage): AgentJob {
  jobCount += 1;
  return { id: `JOB-T${jobCount}-${action}`, requestId: `REQ-T${jobCount}`, action, attempt: 1, package: p };
}

const run = (j: AgentJob, signal?: AbortSignal) => runJob(j, { root, deviceId: DEVICE, signal });

async function loadVisio(): Promise<AgentPackage> {
  const dir = join(import.meta.dirname, '..', 'packages', 'visio');
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Omit<
    AgentPackage,
    'scripts'
  >;
  const script = (name: string) => readFile(join(dir, `${name}.sh`), 'utf8');
  return {
    id: manifest.id,
    name: manifest.name,
    version: manifest.version,
    timeoutSeconds: manifest.timeoutSeconds,
    scripts: {
      detect: await script('detect'),
      install: await script('install'),
      uninstall: await script('uninstall'),
    },
  };
}

/** A killed process may linger as a zombie until its new parent reaps it; a zombie runs nothing. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // Field 3 of /proc/<pid>/stat is the state; the command name before it may contain spaces.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('runJob with the real visio package', () => {
  it('installs, finds it already installed, uninstalls, and finds nothing to remove', async () => {
    const visio = await loadVisio();
    const app = join(root, 'Applications', 'Microsoft Visio');

    const first = await run(job('install', visio));
    expect(first).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(first.output).toContain(`Installed Microsoft Visio ${visio.version} into ${app}`);
    expect((await readFile(join(app, 'VERSION'), 'utf8')).trim()).toBe(visio.version);
    expect(Date.parse(first.finishedAt)).toBeGreaterThanOrEqual(Date.parse(first.startedAt));

    const scriptsDir = packageScriptsDir(root, visio);
    expect(scriptsDir).toBe(join(root, '.reqflow', 'packages', 'visio', visio.version));
    for (const name of ['detect', 'install', 'uninstall']) {
      const file = join(scriptsDir, `${name}.sh`);
      expect((await stat(file)).mode & 0o777).toBe(0o755);
      expect(await readFile(file, 'utf8')).toBe(visio.scripts[name as keyof AgentPackage['scripts']]);
    }

    const second = await run(job('install', visio));
    expect(second).toMatchObject({ outcome: 'already_installed', exitCode: 0 });
    expect(second.output).not.toContain('Installed Microsoft Visio');
    expect(second.output).toContain('already installed');

    const removed = await run(job('uninstall', visio));
    expect(removed).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(removed.output).toContain('Removed Microsoft Visio');
    expect(existsSync(app)).toBe(false);

    const again = await run(job('uninstall', visio));
    expect(again).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(again.output).toContain('not installed, nothing to remove');
    expect(again.output).not.toContain('Removed Microsoft Visio');
  });
});

describe('runJob install', () => {
  it('reports a failing install with its exit code and the tail of its output', async () => {
    const result = await run(
      job(
        'install',
        pkg({
          install:
            'i=0\nwhile [ $i -lt 2000 ]; do echo "progress line $i"; i=$((i+1)); done\necho "disk full" >&2\nexit 3\n',
        }),
      ),
    );
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 3 });
    expect(result.output.length).toBeLessThanOrEqual(OUTPUT_LIMIT);
    expect(result.output).toContain('disk full');
    expect(result.output).toContain('progress line 1999');
    expect(result.output).not.toContain('progress line 10\n');
    expect(result.output).toMatch(/\[exit 3\]\n$/);
  });

  it('fails when install exits 0 but detect still does not find the package', async () => {
    const result = await run(job('install', pkg({ detect: 'exit 4\n', install: 'echo "all done"\n' })));
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 4 });
    expect(result.output).toContain('all done');
    expect(result.output).toContain('install reported success but detect does not find Test Package 1.0.0');
  });

  it('runs scripts in the install root', async () => {
    const result = await run(
      job('install', pkg({ detect: '[ -f marker ]\n', install: 'pwd; touch marker\n' })),
    );
    expect(result).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(result.output).toContain(`${root}\n`);
    expect(existsSync(join(root, 'marker'))).toBe(true);
  });

  it('gives scripts a clean environment with only the job variables', async () => {
    process.env.REQFLOW_AGENT_TEST_SECRET = 'must-not-leak';
    try {
      const j = job('install', pkg({ detect: 'env\nexit 1\n', install: 'exit 5\n' }, { id: 'envcheck' }));
      const result = await run(j);
      expect(result).toMatchObject({ outcome: 'failed', exitCode: 5 });
      expect(result.output).not.toContain('must-not-leak');
      const env = new Map(
        result.output
          .split('\n')
          .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(Object.fromEntries(env)).toMatchObject({
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: root,
        LANG: 'C.UTF-8',
        REQFLOW_DEVICE_ID: DEVICE,
        REQFLOW_JOB_ID: j.id,
        REQFLOW_REQUEST_ID: j.requestId,
        REQFLOW_ATTEMPT: '1',
        PACKAGE_ID: 'envcheck',
        PACKAGE_VERSION: '1.0.0',
      });
      // The shell itself may add its own bookkeeping variables, nothing else.
      const extra = [...env.keys()].filter(
        (k) =>
          ![
            'PATH',
            'HOME',
            'LANG',
            'REQFLOW_DEVICE_ID',
            'REQFLOW_JOB_ID',
            'REQFLOW_REQUEST_ID',
            'REQFLOW_ATTEMPT',
            'PACKAGE_ID',
            'PACKAGE_VERSION',
            'PWD',
            'OLDPWD',
            'SHLVL',
            '_',
          ].includes(k),
      );
      expect(extra).toEqual([]);
    } finally {
      delete process.env.REQFLOW_AGENT_TEST_SECRET;
    }
  });

  it('refuses a package id that would escape the install root', async () => {
    const result = await run(job('install', pkg({}, { id: '../../escape' })));
    expect(result).toMatchObject({ outcome: 'failed', exitCode: null });
    expect(result.output).toContain('unsafe package id');
    expect(existsSync(join(root, '.reqflow'))).toBe(false);
  });
});

// The scripts sleep 60 s, past the test's own timeout: a run that returns at all was cut off.
describe('runJob time limit', () => {
  it('kills a script past its time limit and everything it started', { timeout: 30_000 }, async () => {
    const result = await run(
      job(
        'install',
        pkg(
          { install: 'echo "starting a long install"\nsh -c \'echo $$ > sleeper.pid; exec sleep 60\'\n' },
          { timeoutSeconds: 1 },
        ),
      ),
    );
    expect(result).toMatchObject({ outcome: 'timed_out', exitCode: null });
    expect(result.output).toContain('starting a long install');
    expect(result.output).toContain('timed out after 1s');
    const sleeper = Number((await readFile(join(root, 'sleeper.pid'), 'utf8')).trim());
    expect(sleeper).toBeGreaterThan(0);
    await vi.waitFor(() => expect(isRunning(sleeper)).toBe(false), { timeout: 5000, interval: 50 });
  });

  it('kills a script that ignores SIGTERM', { timeout: 30_000 }, async () => {
    const result = await run(
      job(
        'install',
        pkg(
          { install: "trap '' TERM\nsh -c 'echo $$ > sleeper.pid; exec sleep 60'\n" },
          { timeoutSeconds: 1 },
        ),
      ),
    );
    expect(result).toMatchObject({ outcome: 'timed_out', exitCode: null });
    const sleeper = Number((await readFile(join(root, 'sleeper.pid'), 'utf8')).trim());
    await vi.waitFor(() => expect(isRunning(sleeper)).toBe(false), { timeout: 5000, interval: 50 });
  });

  it('kills the running script when the caller aborts', { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    const pending = run(
      job('install', pkg({ install: 'echo $$ > shell.pid\nsleep 60\n' })),
      controller.signal,
    );
    await vi.waitFor(() => expect(existsSync(join(root, 'shell.pid'))).toBe(true), { timeout: 10_000 });
    controller.abort();
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'failed', exitCode: null });
    expect(result.output).toContain('shutting down');
  });
});

describe('runJob uninstall', () => {
  it('removes an installed package and verifies it is gone', async () => {
    const p = pkg({ detect: '[ -f app ]\n', install: 'touch app\n', uninstall: 'rm app; echo removed\n' });
    expect(await run(job('install', p))).toMatchObject({ outcome: 'succeeded' });
    const result = await run(job('uninstall', p));
    expect(result).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(result.output).toContain('removed');
    expect(existsSync(join(root, 'app'))).toBe(false);
  });

  it('fails when uninstall exits non-zero', async () => {
    const result = await run(
      job('uninstall', pkg({ detect: 'exit 0\n', uninstall: 'echo "in use" >&2; exit 2\n' })),
    );
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 2 });
    expect(result.output).toContain('in use');
  });

  it('fails when detect still finds the package after uninstall', async () => {
    const result = await run(job('uninstall', pkg({ detect: 'exit 0\n', uninstall: 'exit 0\n' })));
    expect(result.outcome).toBe('failed');
    expect(result.output).toContain('uninstall reported success but detect still finds Test Package 1.0.0');
  });
});
