import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import { repoRoot } from '../runtime/config.js';
import { startStack, type TestStack } from './helpers/stack.js';

// The README's operator recipes, run as written (`npm run temporal -- ...`, here through
// the same script) against a real stack. Queries are scoped to this stack's task queue
// because other test files share the dev server.

let stack: TestStack;
let carol: string;

beforeAll(async () => {
  stack = await startStack(inject('temporalAddress'));
  carol = await stack.login('carol');
});

afterAll(async () => {
  await stack?.stop();
});

const run = promisify(execFile);
async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'scripts/temporal.ts'), ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
    },
  );
  return stdout;
}

/** Visibility follows a workflow's search attributes shortly after they change. */
async function listUntil(query: string, ok: (ids: string[]) => boolean): Promise<string[]> {
  for (let i = 0; ; i++) {
    const out = await temporal('workflow', 'list', '--query', query, '--output', 'json');
    const ids = (JSON.parse(out || '[]') as { execution: { workflowId: string } }[]).map(
      (w) => w.execution.workflowId,
    );
    if (ok(ids) || i >= 50) return ids;
    await sleep(200);
  }
}

describe('operator recipes', () => {
  it('finds every request awaiting one approver, and cancels the open requests of a person who left', async () => {
    const submitted: RequestView[] = [];
    for (const justification of ['Quarterly close', 'Audit support']) {
      submitted.push(await stack.submit(carol, { catalogItemId: 'financial-reporting', justification }));
    }
    const ids = submitted.map((r) => r.id).sort();
    for (const id of ids) await stack.waitForRequest(carol, id, (r) => r.status === 'awaiting_approval');

    const scope = `TaskQueue = "${stack.taskQueue}"`;
    const awaitingErin = await listUntil(
      `WaitingOn = "erin" AND ExecutionStatus = "Running" AND ${scope}`,
      (found) => found.length === 2,
    );
    expect(awaitingErin.sort()).toEqual(ids);

    await temporal(
      'workflow',
      'cancel',
      '--query',
      `Requester = "carol" AND ExecutionStatus = "Running" AND ${scope}`,
      '--reason',
      'carol left the company',
      '--yes',
    );
    for (const id of ids) {
      const done = await stack.waitForRequest(carol, id, (r) => r.status === 'cancelled');
      expect(done.outcome?.message).toBeDefined();
    }
    // Nothing waits on erin any more.
    expect(await listUntil(`WaitingOn = "erin" AND ${scope}`, (found) => found.length === 0)).toEqual([]);
  });
});
