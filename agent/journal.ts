import { readFileSync } from 'node:fs';
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
  /** The script running now: its job, its process group, when it started, on which boot. */
  script?: { jobId: string; pgid: number; startedAt: number; bootId: string | undefined };
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
    this.state.script = { jobId, pgid, startedAt: Date.now(), bootId: bootId() };
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

/** Linux's id of this boot: a process group recorded before a reboot is not the one running now. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
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
