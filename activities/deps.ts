import type { DB } from '../db/client.js';

/** What activities need from the outside world; worker.ts builds the real ones, tests pass their own. */
export interface ActivityDeps {
  db: DB;
  /** Folders holding deployment packages (see runtime/packages.ts). */
  packagesDirs: readonly string[];
  /** Base URL for links in notifications. */
  publicUrl: string;
  /** Signs approve/deny links (see runtime/approval-links.ts). */
  linkSecret: string;
  /** How long an approve/deny link stays valid. */
  linkTtlMs: number;
  /** Told the device of each job queued, after its commit (wakes the device's held poll; runtime/job-doorbell.ts). */
  jobQueued?: (deviceId: string) => void;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

export function clock(deps: ActivityDeps): () => string {
  return () => (deps.now ? deps.now() : new Date()).toISOString();
}
