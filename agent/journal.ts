import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentJob } from './run-job.js';

/**
 * The job this device's agent is carrying out, on disk, so that an agent that was killed
 * (kill -9, a forced stop, a crash, a power cut) is followed by one that finishes the job:
 * the next agent waits for the script its predecessor left running, then runs the job again
 * from `detect` (which skips an install that completed) and reports it.
 */
export interface JournalEntry {
  job: AgentJob;
  /** The script running now: its process group, when it started, on which boot. */
  script?: { pgid: number; startedAt: number; bootId: string | undefined };
}

export class JobJournal {
  readonly file: string;
  private entry: JournalEntry | undefined;

  constructor(root: string) {
    this.file = join(root, '.reqflow', 'current-job.json');
  }

  async read(): Promise<JournalEntry | undefined> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as JournalEntry;
    } catch {
      return undefined; // none, or cut off mid-write (the rename makes that unlikely): nothing to resume
    }
  }

  async begin(job: AgentJob): Promise<void> {
    this.entry = { job };
    await this.write();
  }

  async scriptStarted(pgid: number): Promise<void> {
    if (!this.entry) return;
    this.entry.script = { pgid, startedAt: Date.now(), bootId: bootId() };
    await this.write();
  }

  async end(): Promise<void> {
    this.entry = undefined;
    await rm(this.file, { force: true });
  }

  private async write(): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(this.entry));
    await rename(tmp, this.file);
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
