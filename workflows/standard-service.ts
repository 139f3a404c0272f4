import { toMs } from '../domain/duration.js';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  patched,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import { acts as remoteActs, localActs } from './activity-proxies.js';
import type { DeploymentRound } from '../activities/deployment.js';
import type { Entitlement } from '../activities/entitlement.js';
import {
  SURVEY_LINK_REF,
  type Approval,
  type DeploymentReport,
  type RequestSnapshot,
  type RequestStep,
  type StandardServiceInput,
} from '../domain/request.js';
import { Approvals, decidersOf } from './approval.js';
import { DeploymentDecisions, type DeploymentDecision } from './deployment-decision.js';
import { auditorFor, failureType, messageOf, RequestTracker } from './request-tracker.js';

/** How long a failed deployment waits for an operator when the request carries no setting. */
const DECISION_TIMEOUT = '3d';

/** A device's report of one deployment attempt, sent by the API when the agent posts its result. */
export const deploymentResultSignal = defineSignal<[DeploymentReport]>('deploymentResult');

/**
 * ITIL "Request to Fulfill" for a Standard Service: software deployed to the
 * requester's device under a pre-authorized Standard Change (or a CAB-approved
 * Normal Change). Entitlement -> license seat -> change -> deployment job run by
 * the device agent (retried) -> CMDB -> license assigned -> notify. A failed
 * deployment waits for an operator to retry it or give up. Anything that cannot
 * finish unwinds what it did and escalates to a service-desk task.
 */
export async function standardServiceRequest(input: StandardServiceInput): Promise<RequestSnapshot> {
  const { requestId, options } = input;
  // New runs take the lean path: the short SQLite steps run as local activities (no
  // activity task round trip through the server each) and the request is projected at
  // its status changes and waits rather than at every step. Runs recorded before it
  // replay on the path they took.
  const lean = patched('lean-standard-path');
  const acts = lean ? localActs : remoteActs;
  // Newer lean runs start the steps that do not wait on each other together: each local
  // activity the workflow awaits alone costs a hop from the worker's core to the activity and
  // back into the sandbox, so side by side they cost one. Runs recorded before replay as they were.
  const sideBySide = lean && patched('steps-side-by-side');
  const tracker = new RequestTracker({ ...input, type: 'standard_service' }, { lean });
  const reports = new Map<number, DeploymentReport>();

  setHandler(deploymentResultSignal, (report) => {
    // The first report of an attempt counts; a duplicate delivery changes nothing.
    if (!reports.has(report.attempt)) reports.set(report.attempt, report);
  });
  const approvalGates = new Approvals(tracker);
  const decisions = new DeploymentDecisions(tracker, requestId);

  // Undo stack: each completed side effect pushes its compensation.
  const compensations: { name: string; run: () => Promise<unknown> }[] = [];
  const compensate = async (reason: string) => {
    for (const c of compensations.reverse()) {
      const step = await tracker.startStep(c.name, 'automated', reason);
      await c.run();
      await tracker.updateStep(step, { state: 'compensated' });
    }
    compensations.length = 0;
  };

  const audit = auditorFor(requestId, input.deviceId, '', lean);
  // Someone who asked on another's behalf is told; the beneficiary gets a copy of each message.
  const copyToBeneficiary = input.beneficiary !== input.requester ? { copyTo: input.beneficiary } : {};

  try {
    await tracker.setStatus('checking_entitlement');
    let item: Entitlement;
    try {
      item = await tracker.step(
        'check_entitlement',
        () => acts.checkEntitlement(input),
        (e) => `Entitled: ${e.basis}; device ${input.deviceId} belongs to ${input.beneficiary}.`,
      );
    } catch (err) {
      if (failureType(err) !== 'NotEntitled') throw err;
      const reason = messageOf(err);
      await acts.notify({
        key: `${requestId}:rejected`,
        requestId,
        recipient: input.requester,
        ...copyToBeneficiary,
        subject: `Your request ${requestId} was rejected`,
        body: reason,
        links: { request: `/api/requests/${requestId}` },
      });
      await audit('request.rejected', { catalogItemId: input.catalogItemId, reason });
      tracker.admit();
      return await tracker.finish('rejected', { message: `Request rejected: ${reason}`, reason });
    }

    if (item.licensePoolId) {
      const poolId = item.licensePoolId;
      const seat = await reserveSeat(poolId);
      if (!seat) {
        await compensate('No license seat became free in time.');
        return await tracker.finish('failed', {
          message: `No ${item.itemName} license seat became free within ${options.seatWaitTimeout}; nothing was installed. The service desk has a task to add seats.`,
          reason: 'license_pool_empty',
        });
      }
      compensations.push({
        name: 'release_license_seat',
        run: () => acts.releaseLicenseSeat({ requestId, poolId }),
      });
    }

    if (item.changeModel === 'standard') {
      const standardChange: Approval = {
        kind: 'standard_change',
        approver: 'reqflow',
        decision: 'approve',
        comment: `Pre-authorized Standard Change: ${item.basis}, license seat reserved.`,
        decidedAt: new Date(Date.now()).toISOString(),
      };
      // Side by side, the status 'approved' published just below carries it.
      if (sideBySide) tracker.snapshot.approvals.push(standardChange);
      else await tracker.addApproval(standardChange);
    } else {
      // A Normal Change: the CAB (or the item's policy) decides before anything changes.
      const result = await approvalGates.seek(input, item);
      if (result.outcome !== 'approved') {
        const denied = result.outcome === 'denied' ? result.decision : undefined;
        await audit(
          `request.${result.outcome}`,
          { catalogItemId: input.catalogItemId, ...(denied ? { approval: denied } : {}) },
          denied?.approver,
        );
        await compensate(
          denied ? 'The Normal Change was denied.' : 'Nobody decided on the Normal Change in time.',
        );
        const message = denied
          ? `${denied.approver} denied the change${denied.comment ? `: ${denied.comment}` : '.'}`
          : `No decision within ${input.approval.expireAfter}; the request expired.`;
        await acts.notify({
          key: `${requestId}:${result.outcome}`,
          requestId,
          recipient: input.requester,
          ...copyToBeneficiary,
          subject: `Your request for ${item.itemName} was ${result.outcome}`,
          body: message,
        });
        return await tracker.finish(result.outcome, {
          message,
          reason: denied ? (denied.comment ?? `denied by ${denied.approver}`) : 'approval_expired',
        });
      }
    }
    const approval = tracker.snapshot.approvals.at(-1)!;
    const approvals = tracker.snapshot.approvals.filter((a) => a.decision === 'approve');
    const auditApproval = () =>
      audit(
        'request.approved',
        { catalogItemId: input.catalogItemId, approval, approvals },
        decidersOf(approvals),
      );
    // The audit entry is written before anything is granted either way: side by side, the
    // change record (which grants nothing) waits for it before the deployment starts.
    const approvalAudited = sideBySide ? auditApproval() : await auditApproval();
    await tracker.setStatus('approved');
    tracker.admit();

    const [, { changeId }] = await allSettledThenThrow(
      Promise.resolve(approvalAudited),
      tracker.step(
        'record_change',
        // Remote even on the lean path: recorded runs have it so, and the workflow task after
        // it, which starts the deployment round, is where a reset by hand lands (README).
        () =>
          remoteActs.recordChange({
            requestId,
            catalogItemId: input.catalogItemId,
            model: item.changeModel,
            authorizedBy:
              item.changeModel === 'standard'
                ? 'pre-authorized Standard Change'
                : tracker.snapshot.approvals.map((a) => a.approver).join(', '),
            summary: `Install ${item.itemName} on ${input.deviceId} for ${input.beneficiary} (${requestId})`,
          }),
        (r) =>
          `${item.changeModel === 'standard' ? 'Standard Change (pre-authorized, no CAB)' : 'Normal Change (CAB-approved)'} ${r.changeId}`,
      ),
    );
    compensations.push({
      name: 'close_change_failed',
      run: () =>
        acts.closeChange({ requestId, state: 'closed_failed', note: 'Deployment did not complete.' }),
    });

    await tracker.setStatus('fulfilling');
    // Runs started before deployment rounds existed go on without this step (patch
    // marker in their history); a reset by hand (README) lands just before it, so the
    // round numbers its attempts on from the jobs already queued.
    const round: DeploymentRound =
      lean || patched('deployment-rounds')
        ? // Remote even on the lean path: it numbers attempts from the jobs already queued, so
          // it must not run again when a worker dies before its workflow task completes.
          await remoteActs.prepareDeployment({
            requestId,
            deviceId: input.deviceId,
            userId: input.beneficiary,
            ...(item.licensePoolId ? { poolId: item.licensePoolId } : {}),
          })
        : { firstAttempt: 1 };
    if (round.firstAttempt > 1) {
      // A reset by hand (`temporal workflow reset`) has nobody to name; `retry` is only in
      // results recorded when the API retried by resetting the workflow.
      const who = round.retry
        ? `${round.retry.by} retried the deployment${round.retry.reason ? `: ${round.retry.reason}` : ''}`
        : 'The workflow was reset to retry the deployment';
      const retried = await tracker.startStep(
        'operator_retry',
        'human',
        `${who}. Attempts go on from ${round.firstAttempt}.`,
        'waiting',
      );
      // The request sat failed until somebody retried it: that wait was on a person.
      if (round.failedAt) retried.startedAt = round.failedAt;
      await tracker.updateStep(retried, { state: 'completed' });
    }
    let firstAttempt = round.firstAttempt;
    let deployed = await deploy(item, firstAttempt);
    let decision: DeploymentDecision | undefined;
    // Runs recorded before the decision wait (no patch marker) end failed at once, as they did.
    while (!deployed.ok && patched('deployment-decision')) {
      decision = await decisions.wait(deployed.reason, options.decisionTimeout ?? DECISION_TIMEOUT);
      if (decision.action !== 'retry') break;
      // The seat and the change stay with the request while it waits, so the new round only
      // queues new jobs; their attempt numbers go on, so late reports of the old ones never count.
      firstAttempt = deployed.nextAttempt;
      await auditorFor(
        requestId,
        input.deviceId,
        `:from-attempt-${firstAttempt}`,
        lean,
      )('request.retried', { reason: decision.reason, failure: deployed.reason, firstAttempt }, decision.by);
      await tracker.setStatus('fulfilling');
      deployed = await deploy(item, firstAttempt);
    }
    // A later round must not collide with the keys of the round before (one task, one mail, one audit entry each).
    const roundKey = firstAttempt > 1 ? `:from-attempt-${firstAttempt}` : '';
    if (!deployed.ok && decision?.action === 'give_up') {
      const { by, reason } = decision;
      await compensate(`${by} gave up: ${reason}`);
      await auditorFor(
        requestId,
        input.deviceId,
        roundKey,
        lean,
      )('request.given_up', { reason, failure: deployed.reason, changeId }, by);
      await acts.notify({
        key: `${requestId}:given-up${roundKey}`,
        requestId,
        recipient: input.requester,
        ...copyToBeneficiary,
        subject: `${item.itemName} could not be installed`,
        body: `${deployed.reason} The service desk stopped trying: ${reason}`,
        links: { request: `/api/requests/${requestId}` },
      });
      return await tracker.finish('failed', {
        message: `${deployed.reason} ${by} gave up: ${reason}`,
        reason,
        changeId,
      });
    }
    if (!deployed.ok) {
      await compensate(deployed.reason);
      const { taskId } = await tracker.step(
        'escalate_to_service_desk',
        () =>
          acts.openManualTask({
            key: `${requestId}:deployment${roundKey}`,
            requestId,
            groupId: item.fulfillmentGroupId,
            title: `Install ${item.itemName} on ${input.deviceId} by hand`,
            description: `${deployed.reason} Requested by ${input.requester} for ${input.beneficiary}. Change ${changeId} was closed as failed and the license seat released.`,
          }),
        (r) => `Task ${r.taskId} opened for ${item.fulfillmentGroupId}.`,
      );
      await auditorFor(
        requestId,
        input.deviceId,
        roundKey,
        lean,
      )('request.failed', {
        reason: deployed.reason,
        taskId,
        changeId,
      });
      await acts.notify({
        key: `${requestId}:failed${roundKey}`,
        requestId,
        recipient: input.requester,
        ...copyToBeneficiary,
        subject: `${item.itemName} could not be installed automatically`,
        body: `${deployed.reason} The service desk has been asked to help (task ${taskId}).`,
        links: { request: `/api/requests/${requestId}` },
      });
      return await tracker.finish('failed', {
        message: `${deployed.reason} Escalated to the service desk (task ${taskId}).`,
        reason: deployed.code,
        taskId,
        changeId,
      });
    }

    const updateCmdb = () =>
      tracker.step(
        'update_cmdb',
        () =>
          acts.recordSoftwareInstall({
            requestId,
            deviceId: input.deviceId,
            packageId: item.packageId,
            product: item.itemName,
            version: deployed.version,
          }),
        (r) => `Software CI ${r.ciId} installed_on ${input.deviceId}.`,
      );
    const assignSeat = async () => {
      if (!item.licensePoolId) return;
      const poolId = item.licensePoolId;
      await tracker.step(
        'assign_license_seat',
        () => acts.assignLicenseSeat({ requestId, poolId }),
        () => `Seat in pool ${poolId} assigned to ${input.beneficiary}.`,
      );
    };
    const closeChange = (ciId: string) =>
      tracker.step(
        'close_change',
        () => acts.closeChange({ requestId, state: 'closed_successful', note: `Installed; CI ${ciId}.` }),
        () => `${changeId} closed successful.`,
      );
    const auditInstall = (ciId: string) =>
      audit('software.installed', {
        catalogItemId: input.catalogItemId,
        packageId: item.packageId,
        version: deployed.version,
        ciId,
        changeId,
        licensePoolId: item.licensePoolId,
        beneficiary: input.beneficiary,
        approval,
      });
    const launchUrl = item.launchUrl ?? undefined;
    // The outcome names only the API route: other readers of the request must not get the requester's signed link.
    const surveyUrl = `/api/requests/${requestId}/survey`;
    const notifyRequester = (survey: string) =>
      tracker.step(
        'notify_requester',
        () =>
          acts.notify({
            key: `${requestId}:fulfilled`,
            requestId,
            recipient: input.requester,
            ...copyToBeneficiary,
            subject: `${item.itemName} installed successfully`,
            body: `${item.itemName} is installed on ${input.deviceId}. Tell us how it went in a one-question survey.`,
            links: { ...(launchUrl ? { launch: launchUrl } : {}), survey },
          }),
        () => `Notified ${input.requester}.`,
      );
    if (sideBySide) {
      // The CMDB and the seat are independent; closing the change and its audit entry need the
      // CI; the requester's notice needs neither and goes out beside them. As on the path one
      // after another, a failure before the change is closed and audited unwinds the seat and
      // the change, and a failed notice alone unwinds nothing (the software is installed).
      const [{ ciId }] = await allSettledThenThrow(updateCmdb(), assignSeat());
      const recorded = allSettledThenThrow(closeChange(ciId), auditInstall(ciId)).then(() => {
        compensations.length = 0;
      });
      await allSettledThenThrow(recorded, notifyRequester(SURVEY_LINK_REF));
    } else {
      const { ciId } = await updateCmdb();
      await assignSeat();
      await closeChange(ciId);
      compensations.length = 0;
      await auditInstall(ciId);
      // The signed link is made where the notification is written, never in the history.
      const survey =
        lean || patched('survey-link-at-delivery')
          ? SURVEY_LINK_REF
          : await acts.surveyLinkFor({ requestId, requester: input.requester });
      await notifyRequester(survey);
    }
    return await tracker.finish('fulfilled', {
      message: `${item.itemName} installed successfully on ${input.deviceId}.`,
      ...(launchUrl ? { launchUrl } : {}),
      surveyUrl,
      changeId,
    });
  } catch (err) {
    // A local activity's failure arrives as its ApplicationFailure, not wrapped in an ActivityFailure.
    const stepFailed = err instanceof ActivityFailure || (lean && err instanceof ApplicationFailure);
    if (stepFailed && !isCancellation(err)) {
      // A step failed for good (a non-retryable failure nobody planned for): never
      // fail silently. Unwind, hand the request to people, and say so.
      tracker.admit();
      const reason = messageOf(err);
      await compensate(`A step failed: ${reason}`);
      const { taskId } = await acts.openManualTask({
        key: `${requestId}:error`,
        requestId,
        groupId: 'service-desk',
        title: `Request ${requestId} needs a person`,
        description: `Automation stopped: ${reason}`,
      });
      return await tracker.finish('failed', {
        message: `Automation stopped (${reason}); escalated to the service desk (task ${taskId}).`,
        reason: failureType(err) ?? 'error',
        taskId,
      });
    }
    if (!isCancellation(err)) throw err;
    // Cancelled (by the requester or an operator): unwind what was done, even though
    // the workflow's own scope is cancelled.
    return await CancellationScope.nonCancellable(async () => {
      tracker.admit();
      await compensate('The request was cancelled.');
      return tracker.finish('cancelled', {
        message: 'The request was cancelled; nothing remains installed or reserved.',
      });
    });
  }

  /** Reserves a seat; when the pool is empty, escalates and retries on a timer until the wait runs out. */
  async function reserveSeat(poolId: string): Promise<boolean> {
    try {
      await tracker.step(
        'reserve_license_seat',
        () =>
          acts.reserveLicenseSeat({ requestId, poolId, userId: input.beneficiary, deviceId: input.deviceId }),
        (s) => `Seat reserved (${s.inUse} of ${s.total} in use).`,
      );
      return true;
    } catch (err) {
      if (failureType(err) !== 'LicensePoolEmpty') throw err;
    }
    const { taskId } = await acts.openManualTask({
      key: `${requestId}:license-pool-empty`,
      requestId,
      groupId: 'service-desk',
      title: `License pool ${poolId} is exhausted`,
      description: `${input.beneficiary} is waiting for a ${poolId} seat (${requestId}). Free a seat or add seats to the pool; the request picks it up by itself.`,
    });
    const waiting = await tracker.startStep(
      'wait_for_license_seat',
      'waiting',
      `No free seat in pool ${poolId}. Waiting up to ${options.seatWaitTimeout} for one, checking every ${options.seatRetryInterval}; service-desk task ${taskId} asks for more seats.`,
      'waiting',
    );
    // If the request ends while waiting (cancelled), the service desk no longer needs to act.
    const withdrawTask = {
      name: 'cancel_license_task',
      run: async () => {
        await acts.cancelManualTask({ taskId });
        await tracker.updateStep(waiting, {
          state: 'failed',
          detail: `Stopped waiting; task ${taskId} cancelled.`,
        });
      },
    };
    compensations.push(withdrawTask);
    await tracker.enterWait('awaiting_task', () =>
      tracker.setWaitingOn(`a free ${poolId} license seat (task ${taskId})`, ['group:service-desk']),
    );
    tracker.admit();
    const deadline = Date.now() + toMs(options.seatWaitTimeout);
    while (Date.now() < deadline) {
      await sleep(Math.min(toMs(options.seatRetryInterval), deadline - Date.now()));
      try {
        const seat = await acts.reserveLicenseSeat({
          requestId,
          poolId,
          userId: input.beneficiary,
          deviceId: input.deviceId,
        });
        compensations.splice(compensations.indexOf(withdrawTask), 1);
        await tracker.setWaitingOn(null);
        await acts.cancelManualTask({ taskId });
        await tracker.updateStep(waiting, {
          state: 'completed',
          detail: `Seat reserved after waiting (${seat.inUse} of ${seat.total} in use); task ${taskId} closed.`,
        });
        await tracker.setStatus('checking_entitlement');
        return true;
      } catch (err) {
        if (failureType(err) !== 'LicensePoolEmpty') throw err;
      }
    }
    compensations.splice(compensations.indexOf(withdrawTask), 1);
    await tracker.updateStep(waiting, {
      state: 'failed',
      detail: `No seat became free within ${options.seatWaitTimeout}; task ${taskId} stays open for the service desk.`,
    });
    return false;
  }

  type DeployResult =
    | { ok: true; version: string }
    | {
        ok: false;
        code: 'device_unreachable' | 'deployment_failed';
        reason: string;
        /** Where a new round's attempt numbers start. */
        nextAttempt: number;
      };

  /** Queues one job per attempt and waits (a durable timer, not polling) for the device to report. */
  async function deploy(item: Entitlement, firstAttempt: number): Promise<DeployResult> {
    let lastFailure = '';
    const lastAttempt = firstAttempt + options.maxDeployAttempts - 1;
    for (let attempt = firstAttempt; attempt <= lastAttempt; attempt++) {
      const { jobId, packageVersion } = await acts.queueDeployment({
        requestId,
        deviceId: input.deviceId,
        packageId: item.packageId,
        action: 'install',
        attempt,
      });
      // Until the device reports, a cancellation must withdraw the job so a late agent never installs.
      const withdraw = { name: 'withdraw_deployment_job', run: () => acts.expireDeployment({ jobId }) };
      compensations.push(withdraw);
      const queued = `Job ${jobId} queued: ${item.itemName} ${packageVersion} runs when ${input.deviceId} next connects (waiting up to ${options.deviceWaitTimeout}).`;
      const awaited = {
        what: `${input.deviceId} to connect and run job ${jobId}`,
        who: [`device:${input.deviceId}`],
      };
      let step: RequestStep;
      if (lean) step = await tracker.startWait('deploy', 'device', queued, awaited, attempt);
      else {
        step = await tracker.startStep('deploy', 'device', queued, 'waiting', attempt);
        await tracker.setWaitingOn(awaited.what, awaited.who);
      }
      const reported = await condition(() => reports.has(attempt), options.deviceWaitTimeout);
      // The lean path says that the wait is over with the step's end, in one publish.
      if (lean) tracker.snapshot.waitingOn = null;
      else await tracker.setWaitingOn(null);
      compensations.splice(compensations.indexOf(withdraw), 1);
      if (!reported) {
        await acts.expireDeployment({ jobId });
        const reason = `${input.deviceId} did not report job ${jobId} within ${options.deviceWaitTimeout}.`;
        await tracker.updateStep(step, { state: 'failed', detail: reason });
        return { ok: false, code: 'device_unreachable', reason, nextAttempt: attempt + 1 };
      }
      const report = reports.get(attempt)!;
      if (report.succeeded) {
        const installed = {
          state: 'completed',
          detail:
            report.outcome === 'already_installed'
              ? `${item.itemName} ${packageVersion} was already installed (detected); nothing to do.`
              : `Installed ${item.itemName} ${packageVersion} (exit code 0).`,
        } as const;
        // Side by side, the end of the request, a few local steps later, publishes it.
        if (sideBySide) tracker.noteStep(step, installed);
        else await tracker.updateStep(step, installed);
        return { ok: true, version: packageVersion };
      }
      lastFailure = `attempt ${attempt} ${report.outcome === 'timed_out' ? 'timed out' : `exited with code ${report.exitCode}`}`;
      await tracker.updateStep(step, {
        state: 'failed',
        detail: `Install script ${lastFailure}. Output: ${report.outputTail.slice(-500)}`,
      });
    }
    return {
      ok: false,
      code: 'deployment_failed',
      reason: `Installing ${item.itemName} failed ${options.maxDeployAttempts} time(s); last ${lastFailure}.`,
      nextAttempt: lastAttempt + 1,
    };
  }
}

/**
 * Awaits two steps started side by side, then throws the first one's failure, if any: a step
 * that fails never starts the unwinding while the other still runs (a seat being assigned
 * while it is released, say).
 */
async function allSettledThenThrow<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}
