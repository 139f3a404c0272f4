import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentJob } from './run-job.js';

/**
 * The jobs this device's agent has received and not yet reported, on disk, so that an agent
 * that was killed (kill -9, a forced stop, a crash, a power cut) is followed by one that
 * finishes them: the API handed them to this device and will not offer them again until
 * their lease runs out. The next agent waits for the script its predecessor left running,
 * then runs each job again from `detect` (which skips an install that completed) and reports it.
 */
export interface JournalState {
  /** In the order the API gave them; the first is the one in hand. */
  jobs: AgentJob[];
  /** The script running now: its job, its process group and when it started. */
  script?: { jobId: string; pgid: number; startedAt: number };
}

export class JobJournal {
  readonly file: string;
  private state: JournalState = { jobs: [] };
  /** Writes go out one after the other, each the whole state: the file never goes back in time. */
  private writing: Promise<void> = Promise.resolve();

  constructor(root: string) {
    this.file = join(root, '.reqflow', 'agent-journal.json');
  }

  /** What a previous agent left; afterwards this journal carries on from it. */
  async load(): Promise<JournalState> {
    try {
      this.state = JSON.parse(await readFile(this.file, 'utf8')) as JournalState;
    } catch {
      // None, or unreadable: nothing to finish.
      this.state = { jobs: [] };
    }
    return { jobs: [...this.state.jobs], ...(this.state.script ? { script: { ...this.state.script } } : {}) };
  }

  received(jobs: AgentJob[]): Promise<void> {
    const known = new Set(this.state.jobs.map((j) => j.id));
    this.state.jobs.push(...jobs.filter((j) => !known.has(j.id)));
    return this.write();
  }

  scriptStarted(jobId: string, pgid: number): Promise<void> {
    this.state.script = { jobId, pgid, startedAt: Date.now() };
    return this.write();
  }

  /** The job's result reached the API (or was refused for good): nothing left to do for it. */
  done(jobId: string): Promise<void> {
    this.state.jobs = this.state.jobs.filter((j) => j.id !== jobId);
    if (this.state.script?.jobId === jobId) delete this.state.script;
    return this.write();
  }

  private write(): Promise<void> {
    const body = JSON.stringify(this.state);
    // One failed write (a full disk) must not fail every later one.
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(this.file), { recursive: true });
        const tmp = `${this.file}.tmp`;
        await writeFile(tmp, body);
        await rename(tmp, this.file);
      });
    return this.writing;
  }
}

/**
 * The process groups still running a script from `scriptsDir` (one package's scripts on this
 * device), found by their command line: a killed agent may not have journaled the group of a
 * script that had just started, and a pid alone could since belong to anything. Linux only
 * (/proc); elsewhere none are found, and the next agent does not wait.
 */
export function scriptsStillRunning(scriptsDir: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const pid of pids) {
    try {
      // Scripts run as `/bin/sh <scriptsDir>/<name>.sh`, each the leader of its own group.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => arg.startsWith(`${scriptsDir}/`))) found.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Whether any process of the group still runs. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
