import {
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Activities } from '../activities/index.js';
import { fakeActivities } from './helpers/fake-activities.js';
import { setUpWorkflowBundle } from './helpers/workflow-bundle.js';
import { recordHistory } from './helpers/histories.js';
import {
  SURVEY_LINK_REF,
  type DeploymentReport,
  type RequestSnapshot,
  type StandardServiceInput,
  type StandardServiceOptions,
} from '../domain/request.js';
import { RequestStatusKey } from '../domain/temporal.js';
import { decideUpdate } from '../workflows/approval.js';
import {
  DECISION_INCOMPLETE,
  giveUpUpdate,
  NOT_AWAITING_DECISION,
  retryDeploymentUpdate,
} from '../workflows/deployment-decision.js';
import { admissionUpdate, statusQuery } from '../workflows/request-tracker.js';
import { deploymentResultSignal, standardServiceRequest } from '../workflows/standard-service.js';

// One environment and one bundle for the file; every test gets its own task queue
// and workflow id. Activities are typed fakes: these tests are about the workflow's
// branches, the activities have their own tests against a real database.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await setUpWorkflowBundle();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await env?.teardown();
});

type DeviceBehaviour = 'succeeded' | 'failed' | 'silent';

interface Scenario {
  notEntitled?: boolean;
  /** How many reservations find the pool empty before one succeeds (Infinity: never). */
  poolEmptyFor?: number;
  /** What the device reports for attempts 1, 2, 3...; missing entries mean 'succeeded'. */
  device?: DeviceBehaviour[];
  changeModel?: 'standard' | 'normal';
  cmdbBroken?: boolean;
  /** Someone alice requests for (default: alice herself). */
  beneficiary?: string;
}

interface Call {
  name: keyof Activities;
  input: unknown;
}

function standardFakes(scenario: Scenario, calls: Call[], handle: () => WorkflowHandle): Activities {
  let reservations = 0;
  const record = (name: keyof Activities, input: unknown) => calls.push({ name, input });
  return fakeActivities({
    async checkEntitlement(input) {
      record('checkEntitlement', input);
      if (scenario.notEntitled) {
        throw ApplicationFailure.create({
          type: 'NotEntitled',
          message: 'Your role (Finance analyst) is not entitled to Microsoft Visio.',
          nonRetryable: true,
        });
      }
      return {
        itemName: 'Microsoft Visio',
        changeModel: scenario.changeModel ?? 'standard',
        packageId: 'visio',
        licensePoolId: 'visio',
        launchUrl: 'https://apps.example.com/launch/visio',
        fulfillmentGroupId: 'service-desk',
        approvalPolicy:
          scenario.changeModel === 'normal' ? [{ kind: 'group', groupId: 'cab', quorum: 'any' }] : [],
        basis: 'role engineer is entitled to visio',
      };
    },
    async reserveLicenseSeat(input) {
      record('reserveLicenseSeat', input);
      reservations++;
      if (reservations <= (scenario.poolEmptyFor ?? 0)) {
        throw ApplicationFailure.create({
          type: 'LicensePoolEmpty',
          message: 'No free seat: 3 of 3 in use.',
          nonRetryable: true,
        });
      }
      return { seatId: 7, inUse: 3, total: 3 };
    },
    async assignLicenseSeat(input) {
      record('assignLicenseSeat', input);
    },
    async releaseLicenseSeat(input) {
      record('releaseLicenseSeat', input);
    },
    async recordChange(input) {
      record('recordChange', input);
      return { changeId: 'CHG-1' };
    },
    async closeChange(input) {
      record('closeChange', input);
    },
    async prepareDeployment(input) {
      record('prepareDeployment', input);
      return { firstAttempt: 1 };
    },
    async queueDeployment(input) {
      record('queueDeployment', input);
      const behaviour = scenario.device?.[input.attempt - 1] ?? 'succeeded';
      const jobId = `JOB-${input.attempt}`;
      if (behaviour !== 'silent') {
        // The device: reports shortly after the job is queued, as the agent would via the API.
        const report: DeploymentReport = {
          jobId,
          attempt: input.attempt,
          succeeded: behaviour === 'succeeded',
          exitCode: behaviour === 'succeeded' ? 0 : 3,
          outcome: behaviour,
          outputTail: behaviour === 'succeeded' ? 'installed' : 'disk full',
          finishedAt: new Date().toISOString(),
        };
        setTimeout(() => void handle().signal(deploymentResultSignal, report), 50);
      }
      return { jobId, packageVersion: '16.0' };
    },
    async expireDeployment(input) {
      record('expireDeployment', input);
      return { expired: true };
    },
    async recordSoftwareInstall(input) {
      record('recordSoftwareInstall', input);
      if (scenario.cmdbBroken) {
        throw ApplicationFailure.create({
          type: 'CmdbUnavailable',
          message: 'CMDB rejected the CI',
          nonRetryable: true,
        });
      }
      return { ciId: 'SW-LAPTOP-ALICE-visio' };
    },
    async notify(input) {
      record('notify', input);
    },
    async openManualTask(input) {
      record('openManualTask', input);
      return { taskId: `TASK-${input.key.split(':')[1]}` };
    },
    async cancelManualTask(input) {
      record('cancelManualTask', input);
    },
    async recordAudit(input) {
      record('recordAudit', input);
      return { seq: 1 };
    },
    async syncRequest() {
      // The projection is covered by the activity and end-to-end tests.
    },
    async surveyLinkFor(input) {
      record('surveyLinkFor', input);
      return '/surveys/REQ-X?t=signed';
    },
    async resolveApprovers(input) {
      record('resolveApprovers', input);
      return {
        level: input.level,
        label: 'Change Advisory Board',
        approvers: ['erin'],
        required: 1,
        notes: [],
      };
    },
    async escalationTargets(input) {
      record('escalationTargets', input);
      return [];
    },
    async openApprovalTasks(input) {
      record('openApprovalTasks', input);
    },
    async recordApprovalDecision(input) {
      record('recordApprovalDecision', input);
    },
    async closeApprovalTasks(input) {
      record('closeApprovalTasks', input);
    },
    async notifyApprovers(input) {
      record('notifyApprovers', input);
    },
  });
}

const fastOptions: StandardServiceOptions = {
  deviceWaitTimeout: '20s',
  // Long enough for any test to decide; the tests of the timer set a short one.
  decisionTimeout: '1h',
  maxDeployAttempts: 3,
  seatRetryInterval: '500ms',
  seatWaitTimeout: '20s',
};

async function runScenario(
  scenario: Scenario,
  options: Partial<StandardServiceOptions> = {},
  during?: (handle: WorkflowHandle<typeof standardServiceRequest>) => Promise<void>,
) {
  const taskQueue = `wf-test-${randomUUID()}`;
  const requestId = `REQ-T${randomUUID().slice(0, 8).toUpperCase()}`;
  const calls: Call[] = [];
  const handle = () => env.client.workflow.getHandle<typeof standardServiceRequest>(requestId);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: standardFakes(scenario, calls, handle),
  });
  const input: StandardServiceInput = {
    requestId,
    catalogItemId: 'visio',
    requester: 'alice',
    beneficiary: scenario.beneficiary ?? 'alice',
    deviceId: 'LAPTOP-ALICE',
    justification: 'diagrams',
    options: { ...fastOptions, ...options },
    approval: { remindAfter: '1h', escalateAfter: '2h', expireAfter: '3h' },
  };
  return worker.runUntil(async () => {
    const admission = await env.client.workflow.executeUpdateWithStart(admissionUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(standardServiceRequest, {
        workflowId: requestId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    if (during) await during(handle());
    const result = await handle().result();
    const description = await handle().describe();
    const names = calls.map((c) => c.name);
    return { admission, result, calls, names, description, requestId };
  });
}

/** The failure type an update validator refused with (fails the test when it was accepted). */
async function refusedAs(update: Promise<unknown>): Promise<string | null | undefined> {
  const refusal = await update.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((refusal as WorkflowUpdateFailedError).cause as ApplicationFailure).type;
}

/** The audit entry the workflow wrote for `action`, if any. */
const audited = (calls: Call[], action: string) =>
  calls.find((c) => c.name === 'recordAudit' && (c.input as { action: string }).action === action)?.input;

const stepsNamed = (s: RequestSnapshot, name: string) => s.steps.filter((x) => x.name === name);

/** Queries the workflow until its snapshot satisfies `ok` (bounded by the test timeout). */
async function waitFor(h: WorkflowHandle, ok: (s: RequestSnapshot) => boolean): Promise<RequestSnapshot> {
  for (;;) {
    const s = await h.query(statusQuery);
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('standardServiceRequest', () => {
  it('fulfills an entitled request: seat, Standard Change, deployment, CMDB, license, notification', async () => {
    const { admission, result, calls, names, description, requestId } = await runScenario({});
    expect(admission.status).toBe('approved');
    expect(admission.approvals[0]).toMatchObject({ kind: 'standard_change', decision: 'approve' });
    expect(result.status).toBe('fulfilled');
    expect(result.fulfilledAt).not.toBeNull();
    expect(result.outcome).toMatchObject({
      launchUrl: 'https://apps.example.com/launch/visio',
      changeId: 'CHG-1',
    });
    expect(result.outcome?.surveyUrl).toContain('/survey');
    const note = calls.find((c) => c.name === 'notify')?.input as { links: Record<string, string> };
    // A reference only: the notify activity signs the link, so no token enters the history.
    expect(note.links.survey).toBe(SURVEY_LINK_REF);
    // Steps that do not wait on each other run side by side: within a phase, any order.
    const phases = [
      ['checkEntitlement'],
      ['reserveLicenseSeat'],
      ['recordAudit', 'recordChange'],
      ['prepareDeployment'],
      ['queueDeployment'],
      ['assignLicenseSeat', 'recordSoftwareInstall'],
      ['closeChange', 'notify', 'recordAudit'],
    ];
    let at = 0;
    const ran = phases.map((phase) => names.slice(at, (at += phase.length)).sort());
    expect(ran).toEqual(phases);
    expect(names).toHaveLength(at);
    const audits = calls
      .filter((c) => c.name === 'recordAudit')
      .map((c) => c.input as { action: string; details: object });
    expect(audits.map((a) => a.action)).toEqual(['request.approved', 'software.installed']);
    // The grant names the approval that allowed it.
    expect(audits[1]?.details).toMatchObject({ approval: { kind: 'standard_change', decision: 'approve' } });
    expect(calls.find((c) => c.name === 'closeChange')?.input).toMatchObject({ state: 'closed_successful' });
    expect(calls.find((c) => c.name === 'notify')?.input).toMatchObject({
      subject: 'Microsoft Visio installed successfully',
    });
    expect(calls.find((c) => c.name === 'notify')?.input).not.toHaveProperty('copyTo');
    expect(result.steps.map((s) => s.name)).toEqual([
      'check_entitlement',
      'reserve_license_seat',
      'record_change',
      'deploy',
      'update_cmdb',
      'assign_license_seat',
      'close_change',
      'notify_requester',
    ]);
    expect(result.steps.every((s) => s.state === 'completed' && s.endedAt)).toBe(true);
    expect(description.typedSearchAttributes.get(RequestStatusKey)).toBe('fulfilled');
    await recordHistory(env.client.workflow.getHandle(requestId), 'fulfilled');
  });

  it('sends the beneficiary of an on-behalf request a copy of each message', async () => {
    const fulfilled = await runScenario({ beneficiary: 'frank' });
    expect(fulfilled.result.status).toBe('fulfilled');
    expect(fulfilled.calls.find((c) => c.name === 'notify')?.input).toMatchObject({
      recipient: 'alice',
      copyTo: 'frank',
    });
    const rejected = await runScenario({ beneficiary: 'frank', notEntitled: true });
    expect(rejected.calls.find((c) => c.name === 'notify')?.input).toMatchObject({
      key: `${rejected.requestId}:rejected`,
      copyTo: 'frank',
    });
  });

  it('rejects a request the beneficiary is not entitled to, with the reason', async () => {
    const { admission, result, names, requestId } = await runScenario({ notEntitled: true });
    expect(admission.status).toBe('rejected');
    expect(result.status).toBe('rejected');
    expect(result.outcome?.reason).toContain('not entitled');
    expect(names).toEqual(['checkEntitlement', 'notify', 'recordAudit']);
    await recordHistory(env.client.workflow.getHandle(requestId), 'not-entitled');
  });

  it('waits for a license seat when the pool is empty, and goes on when one frees up', async () => {
    const { admission, result, calls, names } = await runScenario({ poolEmptyFor: 3 });
    expect(admission.status).toBe('awaiting_task');
    expect(calls.find((c) => c.name === 'openManualTask')?.input).toMatchObject({ groupId: 'service-desk' });
    expect(names).toContain('cancelManualTask');
    expect(result.status).toBe('fulfilled');
    const wait = stepsNamed(result, 'wait_for_license_seat')[0];
    expect(wait?.state).toBe('completed');
    expect(names.filter((n) => n === 'reserveLicenseSeat')).toHaveLength(4);
  });

  it('gives up on the seat after the wait, escalated and without deploying', async () => {
    const { result, names } = await runScenario({ poolEmptyFor: Infinity }, { seatWaitTimeout: '2s' });
    expect(result.status).toBe('failed');
    expect(result.outcome?.reason).toBe('license_pool_empty');
    expect(names).not.toContain('queueDeployment');
    expect(names).not.toContain('releaseLicenseSeat');
    expect(stepsNamed(result, 'wait_for_license_seat')[0]?.state).toBe('failed');
  });

  it('retries a failed script and records every attempt', async () => {
    const { result, names } = await runScenario({ device: ['failed', 'failed', 'succeeded'] });
    expect(result.status).toBe('fulfilled');
    const deploys = stepsNamed(result, 'deploy');
    expect(deploys.map((d) => [d.attempt, d.state])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'completed'],
    ]);
    expect(deploys[0]?.detail).toContain('exited with code 3');
    expect(names.filter((n) => n === 'queueDeployment')).toHaveLength(3);
  });

  it('compensates and escalates when every attempt fails and nobody decides in time', async () => {
    const { result, calls, names, requestId } = await runScenario(
      { device: ['failed', 'failed', 'failed'] },
      { decisionTimeout: '1s' },
    );
    expect(result.status).toBe('failed');
    expect(stepsNamed(result, 'operator_decision')).toEqual([
      expect.objectContaining({
        kind: 'human',
        state: 'failed',
        detail: 'Nobody retried the deployment or gave up within 1s.',
      }),
    ]);
    expect(result.outcome).toMatchObject({ reason: 'deployment_failed', taskId: 'TASK-deployment' });
    expect(names).toContain('releaseLicenseSeat');
    expect(calls.filter((c) => c.name === 'closeChange').map((c) => c.input)).toEqual([
      expect.objectContaining({ state: 'closed_failed' }),
    ]);
    const task = calls.find((c) => c.name === 'openManualTask')?.input as { key: string } | undefined;
    expect(task?.key).toContain(':deployment');
    expect(names).not.toContain('recordSoftwareInstall');
    expect(names).not.toContain('assignLicenseSeat');
    expect(stepsNamed(result, 'release_license_seat')[0]?.state).toBe('compensated');
    expect(stepsNamed(result, 'close_change_failed')[0]?.state).toBe('compensated');
    await recordHistory(env.client.workflow.getHandle(requestId), 'deployment-failed-compensated');
  });

  it('withdraws the job and compensates when the device never connects', async () => {
    const { result, names } = await runScenario(
      { device: ['silent'] },
      { deviceWaitTimeout: '2s', decisionTimeout: '1s' },
    );
    expect(result.status).toBe('failed');
    expect(result.outcome?.reason).toBe('device_unreachable');
    expect(names).toContain('expireDeployment');
    expect(names).toContain('releaseLicenseSeat');
    expect(names).toContain('openManualTask');
  });

  it('waits for an operator after a failed round; a retry starts a new round with the attempts going on', async () => {
    let waiting: RequestSnapshot | undefined;
    const { result, calls, names } = await runScenario(
      { device: ['failed', 'failed', 'failed', 'succeeded'] },
      {},
      async (h) => {
        waiting = await waitFor(h, (s) => s.status === 'awaiting_decision');
        await h.executeUpdate(retryDeploymentUpdate, { args: [{ by: 'olga', reason: 'Freed disk space' }] });
      },
    );
    expect(waiting?.waitingOn).toMatchObject({ who: ['group:operators'] });
    expect(stepsNamed(waiting!, 'operator_decision')).toEqual([
      expect.objectContaining({ kind: 'human', state: 'waiting' }),
    ]);
    expect(stepsNamed(waiting!, 'operator_decision')[0]?.detail).toContain('failed 3 time(s)');
    expect(result.status).toBe('fulfilled');
    expect(stepsNamed(result, 'deploy').map((d) => [d.attempt, d.state, d.kind])).toEqual([
      [1, 'failed', 'device'],
      [2, 'failed', 'device'],
      [3, 'failed', 'device'],
      [4, 'completed', 'device'],
    ]);
    expect(stepsNamed(result, 'operator_decision')[0]).toMatchObject({
      state: 'completed',
      detail: 'olga retried the deployment: Freed disk space',
    });
    expect(stepsNamed(result, 'check_entitlement')[0]?.kind).toBe('automated');
    // The seat and the change stayed with the request: nothing was undone or escalated.
    expect(names).not.toContain('releaseLicenseSeat');
    expect(names).not.toContain('openManualTask');
    expect(audited(calls, 'request.retried')).toMatchObject({
      actor: 'olga',
      details: { reason: 'Freed disk space', firstAttempt: 4 },
    });
  });

  it('ends the request failed with the reason when an operator gives up; incomplete decisions are refused', async () => {
    const { result, calls, names } = await runScenario(
      { device: ['failed', 'failed', 'failed'] },
      {},
      async (h) => {
        await waitFor(h, (s) => s.status === 'awaiting_decision');
        expect(await refusedAs(h.executeUpdate(giveUpUpdate, { args: [{ by: 'olga', reason: ' ' }] }))).toBe(
          DECISION_INCOMPLETE,
        );
        await h.executeUpdate(giveUpUpdate, { args: [{ by: 'olga', reason: 'Replaced by the web app' }] });
      },
    );
    expect(result.status).toBe('failed');
    expect(result.outcome).toMatchObject({ reason: 'Replaced by the web app' });
    expect(result.outcome?.message).toContain('olga gave up: Replaced by the web app');
    expect(names).toContain('releaseLicenseSeat');
    expect(names).not.toContain('openManualTask');
    expect(calls.filter((c) => c.name === 'closeChange').map((c) => c.input)).toEqual([
      expect.objectContaining({ state: 'closed_failed' }),
    ]);
    expect(audited(calls, 'request.given_up')).toMatchObject({
      actor: 'olga',
      details: { reason: 'Replaced by the web app' },
    });
    expect(names.filter((n) => n === 'queueDeployment')).toHaveLength(3);
  });

  it('refuses a decision while the request does not wait for one', async () => {
    const { result } = await runScenario({ changeModel: 'normal' }, {}, async (h) => {
      for (const update of [retryDeploymentUpdate, giveUpUpdate]) {
        expect(
          await refusedAs(h.executeUpdate(update, { args: [{ by: 'olga', reason: 'too early' }] })),
        ).toBe(NOT_AWAITING_DECISION);
      }
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'approve', approver: 'erin' }] });
    });
    expect(result.status).toBe('fulfilled');
    expect(stepsNamed(result, 'operator_decision')).toEqual([]);
  });

  it('holds a Normal Change for the CAB, and deploys after approval', async () => {
    const { admission, result, names } = await runScenario({ changeModel: 'normal' }, {}, async (h) => {
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', approver: 'erin', comment: 'ok for Q4' }],
      });
    });
    expect(admission.status).toBe('awaiting_approval');
    expect(result.status).toBe('fulfilled');
    expect(result.approvals).toEqual([
      expect.objectContaining({ kind: 'cab', approver: 'erin', decision: 'approve' }),
    ]);
    expect(names.indexOf('recordChange')).toBeGreaterThan(-1);
  });

  it('ends a Normal Change denied by the CAB as denied, releasing the seat', async () => {
    const { result, names } = await runScenario({ changeModel: 'normal' }, {}, async (h) => {
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'deny', approver: 'erin', comment: 'use draw.io' }],
      });
    });
    expect(result.status).toBe('denied');
    expect(result.outcome?.reason).toBe('use draw.io');
    expect(names).toContain('releaseLicenseSeat');
    expect(names).not.toContain('recordChange');
  });

  it('unwinds on cancellation while waiting for the device', async () => {
    const { result, calls, names, requestId } = await runScenario({ device: ['silent'] }, {}, async (h) => {
      await waitFor(h, (s) => stepsNamed(s, 'deploy')[0]?.state === 'waiting');
      await h.cancel();
    });
    expect(result.status).toBe('cancelled');
    expect(names).toContain('expireDeployment');
    expect(names).toContain('releaseLicenseSeat');
    expect(calls.find((c) => c.name === 'closeChange')?.input).toMatchObject({ state: 'closed_failed' });
    await recordHistory(env.client.workflow.getHandle(requestId), 'cancelled-waiting-for-device');
  });

  it('escalates instead of failing silently when a step fails for good', async () => {
    const { result, names } = await runScenario({ cmdbBroken: true });
    expect(result.status).toBe('failed');
    expect(result.outcome).toMatchObject({ reason: 'CmdbUnavailable', taskId: 'TASK-error' });
    expect(result.outcome?.message).toContain('CMDB rejected the CI');
    // The seat may have been assigned beside the CMDB write; the unwinding starts only after
    // both ended, so the seat is given back last.
    expect(names.at(-1)).toBe('openManualTask');
    expect(names.lastIndexOf('releaseLicenseSeat')).toBeGreaterThan(names.lastIndexOf('assignLicenseSeat'));
  });
});
