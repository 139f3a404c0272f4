import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentReport } from '../domain/request.js';
import type { JobAction } from '../domain/status.js';
import { runScript, type ScriptRun } from './run-script.js';

/** The package as the API hands it to the agent, scripts inline so the device needs no file share. */
export interface AgentPackage {
  id: string;
  name: string;
  version: string;
  /** Longest any one script may run before the agent kills its process group. */
  timeoutSeconds: number;
  scripts: Record<ScriptName, string>;
}

export interface AgentJob {
  id: string;
  requestId: string;
  action: JobAction;
  attempt: number;
  package: AgentPackage;
  /** W3C trace context of the step that queued the job, when the server traces. */
  traceparent?: string;
}

export type JobOutcome = DeploymentReport['outcome'];

/** Exactly the body the agent posts to `/api/agent/jobs/:id/result`. */
export interface JobResult {
  exitCode: number | null;
  outcome: JobOutcome;
  output: string;
  startedAt: string;
  finishedAt: string;
}

export interface RunJobOptions {
  /** The device's install root: every script's working directory and HOME. */
  root: string;
  deviceId: string;
  /** Aborting kills the running script; only for a forced shutdown, whose result is not reported. */
  signal?: AbortSignal;
  /** Told each script's process group id as it starts. */
  onScript?: (pgid: number) => void;
}

export type ScriptName = 'detect' | 'install' | 'uninstall';

/** The API stores at most this much output per job. */
export const OUTPUT_LIMIT = 4000;

/** Package ids and versions become directory names: nothing that could climb out of the install root. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** Where the job's scripts are written, per version so a reinstall of an older version finds its own scripts. */
export function packageScriptsDir(root: string, pkg: Pick<AgentPackage, 'id' | 'version'>): string {
  return join(root, '.reqflow', 'packages', pkg.id, pkg.version);
}

interface Verdict {
  outcome: JobOutcome;
  exitCode: number | null;
}

/** Runs a script and records it in the job's transcript; `end` is set when the job cannot go on. */
type Step = (name: ScriptName) => Promise<ScriptRun & { end?: Verdict }>;

/**
 * Carries out one deployment job the way endpoint managers do: detect first, so a
 * retried or duplicated job never installs twice, and detect again afterwards, so
 * an installer that exits 0 without installing is caught. Never rejects.
 */
export async function runJob(job: AgentJob, options: RunJobOptions): Promise<JobResult> {
  const startedAt = new Date().toISOString();
  const transcript: string[] = [];
  const note = (line: string) => transcript.push(`agent: ${line}\n`);
  let verdict: Verdict;
  try {
    const dir = await writeScripts(options.root, job.package);
    const step: Step = async (name) => {
      const run = await runScript(join(dir, `${name}.sh`), {
        cwd: options.root,
        env: scriptEnv(job, options),
        timeoutMs: job.package.timeoutSeconds * 1000,
        signal: options.signal,
        onSpawn: options.onScript,
      });
      transcript.push(describeRun(name, run, job.package.timeoutSeconds));
      return { ...run, end: endOf(run) };
    };
    verdict =
      job.action === 'install'
        ? await install(job.package, step, note)
        : await uninstall(job.package, step, note);
  } catch (err) {
    note(err instanceof Error ? err.message : String(err));
    verdict = { outcome: 'failed', exitCode: null };
  }
  return {
    ...verdict,
    output: tailOf(transcript.join(''), OUTPUT_LIMIT),
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}

async function install(pkg: AgentPackage, step: Step, note: (line: string) => void): Promise<Verdict> {
  const before = await step('detect');
  if (before.end) return before.end;
  if (before.exitCode === 0) {
    note(`${pkg.name} ${pkg.version} is already installed; install skipped`);
    return { outcome: 'already_installed', exitCode: 0 };
  }
  const installed = await step('install');
  if (installed.end) return installed.end;
  if (installed.exitCode !== 0) return { outcome: 'failed', exitCode: installed.exitCode };
  const after = await step('detect');
  if (after.end) return after.end;
  if (after.exitCode !== 0) {
    note(
      `install reported success but detect does not find ${pkg.name} ${pkg.version} (exit ${after.exitCode})`,
    );
    return { outcome: 'failed', exitCode: after.exitCode };
  }
  return { outcome: 'succeeded', exitCode: 0 };
}

async function uninstall(pkg: AgentPackage, step: Step, note: (line: string) => void): Promise<Verdict> {
  const before = await step('detect');
  if (before.end) return before.end;
  if (before.exitCode !== 0) {
    note(`${pkg.name} ${pkg.version} is not installed, nothing to remove`);
    return { outcome: 'succeeded', exitCode: 0 };
  }
  const removed = await step('uninstall');
  if (removed.end) return removed.end;
  if (removed.exitCode !== 0) return { outcome: 'failed', exitCode: removed.exitCode };
  const after = await step('detect');
  if (after.end) return after.end;
  if (after.exitCode === 0) {
    note(`uninstall reported success but detect still finds ${pkg.name} ${pkg.version}`);
    return { outcome: 'failed', exitCode: after.exitCode };
  }
  return { outcome: 'succeeded', exitCode: 0 };
}

/** A script that did not exit on its own ends the job, whichever script it was. */
function endOf(run: ScriptRun): Verdict | undefined {
  if (run.timedOut) return { outcome: 'timed_out', exitCode: null };
  if (run.exitCode === null) return { outcome: 'failed', exitCode: null };
  return undefined;
}

async function writeScripts(root: string, pkg: AgentPackage): Promise<string> {
  for (const [what, value] of [
    ['package id', pkg.id],
    ['package version', pkg.version],
  ] as const) {
    if (!SAFE_SEGMENT.test(value)) throw new Error(`refusing unsafe ${what} ${JSON.stringify(value)}`);
  }
  const dir = packageScriptsDir(root, pkg);
  await mkdir(dir, { recursive: true });
  for (const name of ['detect', 'install', 'uninstall'] as const) {
    const file = join(dir, `${name}.sh`);
    await writeFile(file, pkg.scripts[name], { mode: 0o755 });
    // writeFile's mode applies only to a new file; a rewritten one keeps whatever mode it had.
    await chmod(file, 0o755);
  }
  return dir;
}

/** Scripts see only this: nothing of the agent's own environment (its token above all) leaks into them. */
function scriptEnv(job: AgentJob, options: RunJobOptions): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: options.root,
    LANG: 'C.UTF-8',
    REQFLOW_DEVICE_ID: options.deviceId,
    REQFLOW_JOB_ID: job.id,
    REQFLOW_REQUEST_ID: job.requestId,
    REQFLOW_ATTEMPT: String(job.attempt),
    PACKAGE_ID: job.package.id,
    PACKAGE_VERSION: job.package.version,
  };
}

/** One shell-transcript-like block per script, so the stored tail says which script printed what. */
function describeRun(name: ScriptName, run: ScriptRun, timeoutSeconds: number): string {
  const output = run.output === '' || run.output.endsWith('\n') ? run.output : `${run.output}\n`;
  let status: string;
  if (run.timedOut) status = `timed out after ${timeoutSeconds}s; process group killed`;
  else if (run.aborted) status = 'stopped: the agent is shutting down';
  else if (run.killedBy) status = `killed by ${run.killedBy}`;
  else if (run.exitCode === null) status = 'did not run';
  else status = `exit ${run.exitCode}`;
  return `$ ${name}.sh\n${output}[${status}]\n`;
}

function tailOf(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const marker = '[earlier output truncated]\n';
  return marker + text.slice(text.length - (limit - marker.length));
}
