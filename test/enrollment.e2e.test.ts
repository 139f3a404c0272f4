import { DEVICE_TOKEN_REFUSED } from '../agent/exit-codes.js';
import { and, eq } from 'drizzle-orm';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as t from '../db/schema.js';
import { deviceIdFor } from '../devices/index.js';
import { ended, startStack, type TestStack } from './helpers/stack.js';

// A device joins the way a real one would: an operator issues an enrollment token over
// HTTP, `agent/main.ts enroll` runs as its own process on this machine, registers,
// stores its device token and fulfils a software request; the operator unenrolls it and
// the agent stops. Real worker, API, agent processes and the shared Temporal server.

let stack: TestStack;
let olga: string;
let alice: string;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'), { DEVICE_WAIT_TIMEOUT: '5m' });
  [olga, alice] = await Promise.all([stack.login('olga'), stack.login('alice')]);
});

afterAll(async () => {
  await stack?.stop();
});

/**
 * Waits for a line of process output; returns the regexp's match. Gives up early, with
 * the output, when `proc` exits without printing it.
 */
async function outputLine(
  pattern: RegExp,
  proc?: { exited: Promise<number | null> },
  timeoutMs = 90_000,
): Promise<RegExpMatchArray> {
  let exit: number | null | undefined;
  void proc?.exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of stack.output) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    const gone = exit !== undefined;
    if (gone || Date.now() > deadline) {
      throw new Error(
        `no output matched ${pattern}${gone ? ` (the process exited with ${exit})` : ''}:\n` +
          stack.output.slice(-40).join('\n'),
      );
    }
    await sleep(100);
  }
}

async function issueToken(token: string, ownerId: string) {
  return stack.call('POST', '/api/devices/enrollments', { token, body: { ownerId } });
}

describe('device enrollment end to end', () => {
  let enrollmentToken: string;
  let deviceId: string;
  let agent: { exited: Promise<number | null> };

  it('an operator issues a token; a non-operator may not', async () => {
    const refused = await issueToken(alice, 'alice');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');

    const issued = await issueToken(olga, 'alice');
    expect(issued.status).toBe(201);
    const body = issued.body as { id: string; token: string; ownerId: string; expiresAt: string };
    expect(body.ownerId).toBe('alice');
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    enrollmentToken = body.token;
  });

  it('the agent enrolls as its own process, stores its token owner-only and shows up in the CMDB', async () => {
    agent = stack.startAgentWith('enrolled', ['enroll', '--api', stack.apiUrl, '--token', enrollmentToken]);
    const [, id, owner] = await outputLine(/^\[agent:enrolled\] enrolled device (\S+) for (\S+);/, agent);
    deviceId = id!;
    expect(owner).toBe('alice');
    // No --device: the id comes from this machine's hostname.
    expect(deviceId).toBe(deviceIdFor({ hostname: hostname() }));

    const tokenFile = join(stack.dataDir, 'devices', deviceId, 'agent.token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(tokenFile)).mode & 0o777).toBe(0o700);
    const deviceToken = readFileSync(tokenFile, 'utf8').trim();
    expect(deviceToken).not.toBe(enrollmentToken);

    const ci = await stack.call('GET', `/api/cmdb/devices/${deviceId}`, { token: alice });
    expect(ci.status).toBe(200);
    expect(ci.body).toMatchObject({
      id: deviceId,
      class: 'computer',
      owner: 'alice',
      hostname: hostname(),
      platform: process.platform,
      state: 'enrolled',
    });
    // The same process goes on as a started agent would.
    await outputLine(new RegExp(`^\\[agent:enrolled\\] \\[${deviceId}\\] agent started: polling`), agent);
  });

  it("fulfils a software request for the owner's new device through that agent", async () => {
    const submitted = await stack.submit(alice, { catalogItemId: 'notes-tool', deviceId });
    const done = await stack.waitForRequest(alice, submitted.id, ended);
    expect(done.status).toBe('fulfilled');

    const jobs = await stack.db
      .select()
      .from(t.deploymentJobs)
      .where(and(eq(t.deploymentJobs.requestId, submitted.id), eq(t.deploymentJobs.deviceId, deviceId)));
    expect(jobs.map((j) => [j.action, j.state, j.exitCode])).toEqual([['install', 'succeeded', 0]]);
    const root = join(stack.dataDir, 'devices', deviceId, 'root');
    expect(readFileSync(join(root, 'tools', 'notes-tool', 'VERSION'), 'utf8').trim()).toBe('1.0.0');

    const ci = await stack.call('GET', `/api/cmdb/devices/${deviceId}`, { token: alice });
    expect((ci.body as { installedSoftware: { requestId: string }[] }).installedSoftware).toEqual([
      expect.objectContaining({ requestId: submitted.id }),
    ]);
  });

  it('refuses a second use of the enrollment token with 409, over HTTP and to a second agent', async () => {
    const again = await stack.call('POST', '/api/devices/enroll', {
      headers: { authorization: `Bearer ${enrollmentToken}` },
      body: { hostname: 'another-machine', platform: 'linux' },
    });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');

    const second = stack.startAgentWith('second', [
      'enroll',
      '--api',
      stack.apiUrl,
      '--token',
      enrollmentToken,
      '--device',
      'SECOND-TRY',
    ]);
    expect(await second.exited).toBe(1);
    await outputLine(/^\[agent:second\] reqflow agent: the API refused the enrollment \(HTTP 409\)/);
    expect(await stack.db.select().from(t.devices).where(eq(t.devices.id, 'SECOND-TRY'))).toEqual([]);
  });

  it('unenrolls the device: its token gets 401 and the running agent stops with a clear message', async () => {
    const tokenFile = join(stack.dataDir, 'devices', deviceId, 'agent.token');
    const deviceToken = readFileSync(tokenFile, 'utf8').trim();

    const byOwner = await stack.call('POST', `/api/devices/${deviceId}/unenroll`, {
      token: alice,
      body: { reason: 'laptop returned' },
    });
    expect(byOwner.status).toBe(403);

    const unenrolled = await stack.call('POST', `/api/devices/${deviceId}/unenroll`, {
      token: olga,
      body: { reason: 'laptop returned' },
    });
    expect(unenrolled.status).toBe(200);
    expect(unenrolled.body).toMatchObject({ id: deviceId, state: 'unenrolled' });

    expect(await agent.exited).toBe(DEVICE_TOKEN_REFUSED);
    await outputLine(
      new RegExp(
        `^\\[agent:enrolled\\] \\[${deviceId}\\] the API refused the device token \\(HTTP 401\\).*unenrolled`,
      ),
    );

    const poll = await stack.call('GET', '/api/agent/jobs', { token: deviceToken });
    expect(poll.status).toBe(401);
    expect(poll.headers.get('content-type')).toContain('application/problem+json');
    // No new software goes to a device that can no longer fetch it.
    const refused = await stack.call('POST', '/api/requests', {
      token: alice,
      body: { catalogItemId: 'notes-tool', deviceId },
    });
    expect(refused.status).toBe(422);
    expect((refused.body as { detail: string }).detail).toContain('unenrolled');

    const audit = (await stack.db.select().from(t.auditLog).orderBy(t.auditLog.seq))
      // Not the seed's laptops (enrolled by the seed, reissued for the test agents): this test's device.
      .filter(
        (e) => e.action.startsWith('device.') && e.actor !== 'seed' && !e.subject?.startsWith('LAPTOP-'),
      )
      .map((e) => [e.action, e.actor]);
    expect(audit).toEqual([
      ['device.enrollment_issued', 'olga'],
      ['device.enrolled', `device:${deviceId}`],
      ['device.unenrolled', 'olga'],
    ]);
  });
});
