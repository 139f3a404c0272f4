import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeExit, Supervisor, type Exit, type Running } from '../scripts/supervisor.js';

// The supervisor against real child processes: ones that crash on their own, and ones that
// are killed with SIGKILL from outside, the way an operator's `kill -9` does it.

const started: Running[] = [];

/** A real Node process running `code`; killing it leaves no trace. */
function node(code: string): Running {
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  const running: Running = {
    pid: child.pid,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  started.push(running);
  return running;
}

const forever = 'setInterval(() => {}, 1000)';

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

function supervisor(start: () => Promise<Running>, maxCrashes = 5) {
  const lines: string[] = [];
  const gaveUp: string[] = [];
  const s = new Supervisor({
    name: 'worker',
    start,
    policy: { initialDelayMs: 20, maxDelayMs: 200, maxCrashes, windowMs: 60_000 },
    log: (line) => lines.push(line),
    onGiveUp: (reason) => gaveUp.push(reason),
  });
  return { s, lines, gaveUp };
}

describe('Supervisor', () => {
  it('restarts a process killed with SIGKILL and logs its exit code', async () => {
    const { s, lines } = supervisor(async () => node(forever));
    await s.start();
    const first = s.pid!;
    process.kill(first, 'SIGKILL');
    await vi.waitFor(() => expect(s.restarts === 1 && s.pid !== undefined).toBe(true), {
      timeout: 20_000,
      interval: 20,
    });
    expect(s.pid).not.toBe(first);
    expect(s.restarts).toBe(1);
    expect(s.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(lines[0]).toBe('worker exited unexpectedly with code 137 (SIGKILL); restart 1 in 20 ms');
    expect(lines).toContain(`worker restarted (pid ${s.pid})`);
    // The new one is a live process.
    expect(() => process.kill(s.pid!, 0)).not.toThrow();
    await s.stop();
  });

  it('backs off exponentially and gives up after too many crashes in the window', async () => {
    const { s, lines, gaveUp } = supervisor(async () => node('process.exit(3)'), 4);
    await s.start();
    await vi.waitFor(() => expect(gaveUp).toHaveLength(1), { timeout: 30_000, interval: 20 });
    expect(gaveUp[0]).toBe('worker crashed 4 times within 60 s (last: code 3); giving up');
    expect(s.restarts).toBe(3);
    expect(lines.filter((l) => l.includes('exited unexpectedly')).map((l) => l.split(' in ')[1])).toEqual([
      '20 ms',
      '40 ms',
      '80 ms',
    ]);
    await s.stop();
  });

  it('counts a failed start as a crash, and gives up on starts that keep failing', async () => {
    let calls = 0;
    const { s, gaveUp } = supervisor(async () => {
      calls += 1;
      if (calls === 1) return node('setTimeout(() => process.exit(1), 50)');
      throw new Error('port 7233 is taken\nsecond line');
    }, 3);
    await s.start();
    await vi.waitFor(() => expect(gaveUp).toHaveLength(1), { timeout: 30_000, interval: 20 });
    expect(gaveUp[0]).toBe(
      'worker crashed 3 times within 60 s (last: a failed start: port 7233 is taken); giving up',
    );
    await s.stop();
  });

  it('does not restart what it was asked to stop, even during a backoff', async () => {
    const { s, lines } = supervisor(async () => node(forever));
    await s.start();
    const pid = s.pid!;
    await s.stop();
    expect(() => process.kill(pid, 0)).toThrow();

    const slow = new Supervisor({
      name: 'api',
      start: async () => node('process.exit(1)'),
      policy: { initialDelayMs: 60_000 },
      log: (line) => lines.push(line),
      onGiveUp: () => undefined,
    });
    await slow.start();
    await vi.waitFor(() => expect(lines.some((l) => l.startsWith('api exited'))).toBe(true), {
      timeout: 20_000,
      interval: 20,
    });
    await slow.stop(); // returns at once instead of after the minute's backoff
    await sleep(100);
    expect(slow.restarts).toBe(0);
    expect(s.restarts).toBe(0);
  });

  it('leaves a final exit alone: no restart, no give-up', async () => {
    const lines: string[] = [];
    const gaveUp: string[] = [];
    let starts = 0;
    const s = new Supervisor({
      name: 'agent',
      start: async () => {
        starts += 1;
        return node('process.exit(77)');
      },
      policy: { initialDelayMs: 20, maxDelayMs: 200, maxCrashes: 5, windowMs: 60_000 },
      log: (line) => lines.push(line),
      onGiveUp: (reason) => gaveUp.push(reason),
      finalExit: (exit) => (exit.code === 77 ? 'its token was refused' : undefined),
    });
    await s.start();
    await vi.waitFor(
      () => expect(lines).toContain('agent exited with code 77: its token was refused; not restarting it'),
      {
        timeout: 20_000,
        interval: 20,
      },
    );
    await sleep(200);
    expect(starts).toBe(1);
    expect(s.restarts).toBe(0);
    expect(gaveUp).toEqual([]);
    await s.stop();
  });
});

describe('describeExit', () => {
  it('shows signals as the exit code a shell would report', () => {
    expect(describeExit({ code: 1, signal: null })).toBe('code 1');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('code 137 (SIGKILL)');
    expect(describeExit({ code: null, signal: 'SIGTERM' })).toBe('code 143 (SIGTERM)');
  });
});
