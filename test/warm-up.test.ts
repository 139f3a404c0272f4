import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { repoRoot } from '../runtime/config.js';
import { startWarmUp } from '../runtime/warm-up.js';
import { recordHistory } from './helpers/histories.js';
import { openTestDatabase } from './helpers/test-database.js';
import { setUpWorkflowBundle } from './helpers/workflow-bundle.js';

// The worker's warm-up (worker.ts): a real worker on a real database runs the throwaway
// workflow it starts, and nothing of the organisation's data changes.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let db: DB;

beforeAll(async () => {
  bundle = await setUpWorkflowBundle();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
  db = await openTestDatabase();
});

afterAll(async () => {
  await env?.teardown();
});

describe('the worker warm-up', () => {
  it('runs one local activity on the worker that polls and writes nothing', async () => {
    const taskQueue = `warm-up-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createActivities({
        db,
        packagesDirs: [join(repoRoot, 'packages')],
        publicUrl: 'http://portal.test',
        linkSecret: 'test-link-secret',
        linkTtlMs: 60_000,
      }),
    });
    const logged: string[] = [];
    await worker.runUntil(async () => {
      const id = await startWarmUp(env.client.connection, { namespace: 'default', taskQueue }, (line) =>
        logged.push(line),
      );
      expect(id).toBeDefined();
      const handle = env.client.workflow.getHandle(id!);
      await handle.result();
      await recordHistory(handle, 'warm-up');
      const history = await handle.fetchHistory();
      const markers = history.events!.filter((e) => e.markerRecordedEventAttributes);
      expect(markers).toHaveLength(1);
      expect((await handle.describe()).type).toBe('workerWarmUp');
    });
    expect(logged).toEqual([]);
    expect(await db.select().from(t.requests)).toEqual([]);
    expect(await db.select().from(t.auditLog)).toEqual([]);
  });

  it('says so and goes on when the workflow cannot start', async () => {
    const logged: string[] = [];
    const id = await startWarmUp(
      env.client.connection,
      { namespace: `no-such-namespace-${randomUUID()}`, taskQueue: 'anything' },
      (line) => logged.push(line),
    );
    expect(id).toBeUndefined();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^warning: the worker's warm-up workflow did not start: /);
  });
});
