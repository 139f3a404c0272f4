import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  jobDoorbellDir,
  jobDoorbellRinger,
  watchJobDoorbell,
  type JobDoorbell,
} from '../runtime/job-doorbell.js';

// The worker and the API are separate processes; the doorbell is the file system between them.
// Every wait here is far longer than the test's own time limit: a wait that ends did so because
// the bell rang (or was aborted), never because its time ran out.
const NEVER = 10 * 60_000;

let doorbell: JobDoorbell | undefined;
afterEach(() => doorbell?.close());

const fresh = () => jobDoorbellDir(join(mkdtempSync(join(tmpdir(), 'reqflow-doorbell-')), 'reqflow.db'));

describe('job doorbell', () => {
  it('wakes the poll of the device whose job was queued, and only that one', async () => {
    const dir = fresh();
    doorbell = watchJobDoorbell(dir);
    const ring = jobDoorbellRinger(dir);
    const never = new AbortController();
    let otherWoke = false;
    void doorbell.wait('LAPTOP-BOB', NEVER, never.signal).then(() => {
      otherWoke = !never.signal.aborted;
    });
    const woken = doorbell.wait('LAPTOP/ALICE 1', NEVER, never.signal);
    ring('LAPTOP/ALICE 1');
    await woken;
    never.abort();
    expect(otherWoke).toBe(false);
  });

  it('ends a wait at once when the API closes', async () => {
    doorbell = watchJobDoorbell(fresh());
    const closing = new AbortController();
    const held = doorbell.wait('LAPTOP-ALICE', NEVER, closing.signal);
    closing.abort();
    await expect(held).resolves.toBeUndefined();
  });

  it('rings without a listener and without a folder, and never throws', () => {
    const dir = fresh();
    expect(() => jobDoorbellRinger(join(dir, 'not', 'yet'))('LAPTOP-ALICE')).not.toThrow();
    // A folder that cannot be made (a file is in the way): the poll's own read is the fallback.
    const blocked = join(dir, 'not', 'yet', 'LAPTOP-ALICE', 'below');
    expect(() => jobDoorbellRinger(blocked)('LAPTOP-ALICE')).not.toThrow();
  });
});
