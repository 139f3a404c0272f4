import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FeedbackRequestInput, RequestSnapshot } from '../domain/request.js';
import type { feedbackRequest } from '../workflows/feedback.js';
import { completeTaskUpdate, type TaskCompletion } from '../workflows/manual-task.js';
import { statusQuery } from '../workflows/request-tracker.js';
import { eventually } from './helpers/eventually.js';
import { fakeActivities } from './helpers/fake-activities.js';
import { setUpWorkflowBundle } from './helpers/workflow-bundle.js';

// A task completed as the last human step of a request: the update's handler records the
// completion in an activity while the workflow goes on to its end. The run must not end
// before that record is written: the task would stay open in the database for good, and
// the person completing it would be told the request had already ended.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await setUpWorkflowBundle();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await env?.teardown();
});

describe('a task completed just before the request ends', () => {
  it('the run ends only after the completion is recorded, and the update answers with success', async () => {
    const taskQueue = `manual-task-test-${randomUUID()}`;
    const requestId = `REQ-M${randomUUID().slice(0, 8).toUpperCase()}`;
    const finals: RequestSnapshot[] = [];
    const recorded: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));

    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: fakeActivities({
        async routeFeedback() {
          return { serviceId: 'vpn', serviceName: 'VPN', ownerId: 'olga' };
        },
        async openManualTask(input) {
          return { taskId: input.id! };
        },
        async recordTaskCompletion(c) {
          // The reply's record is held until the run has had every chance to end without it.
          if (c.outcome === 'resolved') await held;
          recorded.push(c.taskId);
        },
        async notify() {},
        async syncRequest({ snapshot }) {
          if (snapshot.status === 'fulfilled') finals.push(snapshot);
        },
      }),
    });

    const input: FeedbackRequestInput = {
      requestId,
      catalogItemId: 'feedback',
      requester: 'carol',
      beneficiary: 'carol',
      approval: { remindAfter: '1h', escalateAfter: '2h', expireAfter: '3h' },
      service: 'VPN',
      message: 'Drops every hour.',
      fallbackGroupId: 'service-desk',
    };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof feedbackRequest>('feedbackRequest', {
        workflowId: requestId,
        taskQueue,
        args: [input],
      });
      const waitingFor = async (step: string) => {
        const taskId = await eventually(
          async () => {
            const s = await handle.query(statusQuery);
            const waiting = s.steps.find((x) => x.name === step && x.state === 'waiting');
            return /Task (TASK-\S+)/.exec(waiting?.detail ?? '')?.[1] ?? '';
          },
          (id) => id !== '',
        );
        expect(taskId, `${requestId} waits on its ${step} task`).not.toBe('');
        return taskId;
      };
      const complete = (c: TaskCompletion) => handle.executeUpdate(completeTaskUpdate, { args: [c] });

      const acknowledge = await waitingFor('owner_acknowledges');
      await complete({ taskId: acknowledge, outcome: 'acknowledged', completedBy: 'olga' });
      const resolve = await waitingFor('owner_replies');
      const answer = complete({
        taskId: resolve,
        outcome: 'resolved',
        resolution: 'Fixed in the new client.',
        completedBy: 'olga',
      });
      // The request's final state is written while the reply's record is still held.
      expect(
        await eventually(
          () => finals.length,
          (n) => n > 0,
        ),
      ).toBeGreaterThan(0);
      // Give a run that would end without the record the time to do so (a wait, not a check):
      // then it is closed, the update's caller got an error and the record never runs.
      await new Promise((r) => setTimeout(r, 2000));
      const { status } = await handle.describe();
      release();

      expect(status.name).toBe('RUNNING');
      await expect(answer).resolves.toMatchObject({ id: requestId });
      const result = await handle.result();
      expect(result.status).toBe('fulfilled');
      expect(recorded).toEqual([acknowledge, resolve]);
    });
  });
});
